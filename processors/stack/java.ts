import { join } from 'node:path';

/** The `java` to run stack services with: $JAVA_HOME/bin/java when set (Java 17+), else the PATH one. */
export function javaBin(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAVA_HOME ? join(env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** The command-line marker that lets `stack down` recognise a process it started for this state dir. */
export function ownerMarker(component: string, stateDir: string): string {
  return `-Dmasterdeal.stack=${component}@${stateDir}`;
}
