/**
 * Guess budgets (ours): bound how many codes an attacker can try against one
 * person, not just one device. Besides the per-device attempt limit
 * (TokenPolicy.maxFailedAttempts), failed validations are counted per
 * approver (account + document number) and per account over a rolling
 * window, across every device, and new devices per account are capped over a
 * rolling window too, so creating devices buys no extra guesses.
 */
export interface GuessLimitPolicy {
  /** Failed validations allowed per approver (account + document number) within `windowSeconds`. */
  readonly perApprover: number;
  /** Failed validations allowed per account, all approvers together, within `windowSeconds`. */
  readonly perAccount: number;
  readonly windowSeconds: number;
  /** Devices an account may create within `deviceCreationWindowSeconds`. */
  readonly deviceCreationsPerAccount: number;
  readonly deviceCreationWindowSeconds: number;
}

export const DEFAULT_GUESS_LIMIT_POLICY: GuessLimitPolicy = {
  perApprover: 20,
  perAccount: 100,
  windowSeconds: 24 * 3600,
  deviceCreationsPerAccount: 20,
  deviceCreationWindowSeconds: 24 * 3600,
};

/**
 * The worst case against one approver's codes, for the docs' guarantees (docs/api.md, docs/testing.md):
 * guesses per day, and the expected days until one of them hits a uniformly
 * random code of `length` characters of an `alphabetSize` alphabet (each
 * guess succeeds with probability 1 / alphabetSize^length).
 */
export function worstCaseAgainstOneApprover(
  policy: GuessLimitPolicy,
  alphabetSize: number,
  length: number,
): { guessesPerDay: number; expectedDaysToHit: number } {
  const guessesPerDay = (Math.min(policy.perApprover, policy.perAccount) * 24 * 3600) / policy.windowSeconds;
  return { guessesPerDay, expectedDaysToHit: alphabetSize ** length / guessesPerDay };
}
