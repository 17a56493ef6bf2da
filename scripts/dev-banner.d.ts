/** Types of dev-banner.js (plain JavaScript, so `npm start` runs without a compile step). */
import type { localEnvironment } from './dev-secrets';

export function appUrls(env: NodeJS.ProcessEnv): { api?: string; worker?: string };

export function cliCommand(env: NodeJS.ProcessEnv, args: string[]): string;

export function readyBanner(options: {
  env: NodeJS.ProcessEnv;
  local: Pick<ReturnType<typeof localEnvironment>, 'fromFile' | 'file'>;
  ready: boolean;
  root: string;
  cwd?: string;
}): string[];
