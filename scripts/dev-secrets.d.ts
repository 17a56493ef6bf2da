/** Types of dev-secrets.js (plain JavaScript, so `npm start` runs without a compile step). */
export type GeneratedVariable = 'ADMIN_TOKEN' | 'TOKEN_HASH_SECRET' | 'BOARD_USERNAME' | 'BOARD_PASSWORD';

export const DEFAULT_FILE: string;
export const GENERATED_SECRET_MARKER: string;
export const GENERATED_VARIABLES: readonly GeneratedVariable[];

export function loadOrCreateDevSecrets(path?: string): { path: string; created: boolean; values: Record<GeneratedVariable, string> };

export function localEnvironment(
  env: NodeJS.ProcessEnv,
  path?: string,
): { env: NodeJS.ProcessEnv; fromFile: GeneratedVariable[]; file?: string; created?: boolean };
