/**
 * Stage predicates of the rules file: `campaign_started and invoice_issued`,
 * `has_brief and not mediaplan_ready`, `otherwise`. Grammar:
 *   expr := and ('or' and)* ; and := unary ('and' unary)* ;
 *   unary := 'not' unary | '(' expr ')' | 'otherwise' | 'true' | NAME
 * Names resolve to a bit mask of facts (a milestone resolves to several bits).
 */
export type Predicate = (mask: number) => boolean;

export class ExpressionError extends Error {}

const TOKEN = /\s*(\(|\)|[A-Za-z_][A-Za-z0-9_]*|\S)/y;

export function compilePredicate(text: string, resolve: (name: string) => number | undefined): Predicate {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) tokens.push(m[1]);
  if (tokens.length === 0) throw new ExpressionError('empty predicate');
  let pos = 0;
  const peek = () => tokens[pos];

  const parseOr = (): Predicate => {
    const parts = [parseAnd()];
    while (peek() === 'or') {
      pos++;
      parts.push(parseAnd());
    }
    return parts.length === 1 ? parts[0] : (mask) => parts.some((p) => p(mask));
  };
  const parseAnd = (): Predicate => {
    const parts = [parseUnary()];
    while (peek() === 'and') {
      pos++;
      parts.push(parseUnary());
    }
    return parts.length === 1 ? parts[0] : (mask) => parts.every((p) => p(mask));
  };
  const parseUnary = (): Predicate => {
    const tok = tokens[pos++];
    if (tok === undefined) throw new ExpressionError('unexpected end of predicate');
    if (tok === 'not') {
      const inner = parseUnary();
      return (mask) => !inner(mask);
    }
    if (tok === '(') {
      const inner = parseOr();
      if (tokens[pos++] !== ')') throw new ExpressionError("missing ')'");
      return inner;
    }
    if (tok === 'otherwise' || tok === 'true') return () => true;
    if (!/^[A-Za-z_]/.test(tok) || tok === 'and' || tok === 'or') throw new ExpressionError(`unexpected '${tok}'`);
    const bits = resolve(tok);
    if (bits === undefined) throw new ExpressionError(`unknown gate '${tok}'`);
    return (mask) => (mask & bits) === bits;
  };

  const predicate = parseOr();
  if (pos < tokens.length) throw new ExpressionError(`unexpected '${tokens[pos]}'`);
  return predicate;
}
