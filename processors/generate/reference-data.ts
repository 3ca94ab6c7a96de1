/**
 * Reference data the synthetic deals are drawn from. Figures are plausible for a Russian
 * ad-tech seller (budgets in roubles, CPMs of programmatic video/display), not measured ones.
 */
export interface IndustryProfile {
  industry: string;
  /** Relative share of deals. */
  weight: number;
  /** Median declared budget, RUB. */
  medianBudgetRub: number;
  /** Typical CPM, RUB per 1000 impressions. */
  cpmRub: number;
  /** Typical click-through rate. */
  ctr: number;
  /** Typical conversions per click. */
  conversionRate: number;
}

export const INDUSTRIES: readonly IndustryProfile[] = [
  { industry: 'FMCG', weight: 20, medianBudgetRub: 9_000_000, cpmRub: 220, ctr: 0.004, conversionRate: 0.015 },
  { industry: 'retail', weight: 16, medianBudgetRub: 5_500_000, cpmRub: 250, ctr: 0.006, conversionRate: 0.03 },
  { industry: 'auto', weight: 10, medianBudgetRub: 8_000_000, cpmRub: 380, ctr: 0.005, conversionRate: 0.01 },
  { industry: 'finance', weight: 12, medianBudgetRub: 7_000_000, cpmRub: 420, ctr: 0.007, conversionRate: 0.02 },
  { industry: 'telecom', weight: 8, medianBudgetRub: 10_000_000, cpmRub: 300, ctr: 0.005, conversionRate: 0.025 },
  { industry: 'pharma', weight: 9, medianBudgetRub: 6_000_000, cpmRub: 280, ctr: 0.004, conversionRate: 0.012 },
  { industry: 'ecommerce', weight: 11, medianBudgetRub: 4_000_000, cpmRub: 200, ctr: 0.009, conversionRate: 0.04 },
  { industry: 'real_estate', weight: 5, medianBudgetRub: 3_500_000, cpmRub: 350, ctr: 0.006, conversionRate: 0.008 },
  { industry: 'travel', weight: 5, medianBudgetRub: 2_500_000, cpmRub: 260, ctr: 0.008, conversionRate: 0.02 },
  { industry: 'media_entertainment', weight: 4, medianBudgetRub: 3_000_000, cpmRub: 180, ctr: 0.01, conversionRate: 0.03 },
];

export const LEGAL_FORMS = ['ООО', 'АО', 'ПАО', 'ООО', 'ООО'] as const;
export const NAME_STEMS = [
  'Север', 'Волга', 'Альфа', 'Ростех', 'Меридиан', 'Гранит', 'Восток', 'Спектр', 'Вектор', 'Орион',
  'Байкал', 'Сибирь', 'Нева', 'Урал', 'Полюс', 'Лидер', 'Кристалл', 'Атлант', 'Форвард', 'Гелиос',
] as const;
export const NAME_TAILS = ['Трейд', 'Групп', 'Маркет', 'Холдинг', 'Фуд', 'Фарм', 'Авто', 'Финанс', 'Телеком', 'Ритейл', 'Инвест', 'Дистрибуция'] as const;
export const AGENCIES = ['Медиа Дирекция', 'Охват Плюс', 'Программатик Лаб', 'Диджитал Фабрика', 'Адвенчер Медиа'] as const;

export const CANCEL_REASONS = [
  'budget frozen by the client',
  'client chose a competitor',
  'campaign postponed to next quarter',
  'no response from the client',
  'brand-safety requirements not met',
  'tender lost',
] as const;

export const REVOKE_REASONS = [
  'wrong legal entity in the contract',
  'payment terms renegotiated',
  'signed by an unauthorised person',
  'amount changed after the media plan review',
] as const;

export const NPS_COMMENTS = {
  promoter: ['быстро запустили', 'отличная отчётность', 'менеджер всегда на связи', 'перевыполнили план по охвату'],
  passive: ['в целом нормально', 'долго согласовывали договор', 'хотелось бы больше аналитики'],
  detractor: ['сорвали сроки запуска', 'недопоставка показов', 'дорого', 'сложно с документами'],
} as const;
