/**
 * Guess budgets (ours): bound how many codes an attacker can try against one
 * person, not just one device. Besides the per-device attempt limit
 * (TokenPolicy.maxFailedAttempts), failed validations are counted per
 * approver (account + document number) and per account over a rolling day,
 * across every device, and new devices per account are capped over the same
 * window, so creating devices buys no extra guesses.
 */
export interface GuessLimitPolicy {
  /** Failed validations allowed per approver (account + document number) in any GUESS_LIMIT_WINDOW_MS. */
  readonly perApproverPerDay: number;
  /** Failed validations allowed per account, all approvers together, in any GUESS_LIMIT_WINDOW_MS. */
  readonly perAccountPerDay: number;
  /** Devices an account may create in any GUESS_LIMIT_WINDOW_MS. */
  readonly deviceCreationsPerAccountPerDay: number;
}

export const DEFAULT_GUESS_LIMIT_POLICY: GuessLimitPolicy = {
  perApproverPerDay: 20,
  perAccountPerDay: 100,
  deviceCreationsPerAccountPerDay: 20,
};

export const GUESS_LIMIT_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * The worst case against one approver's codes, for the README's Guarantees:
 * guesses per day, and the expected days until one of them hits a uniformly
 * random code of `length` characters of an `alphabetSize` alphabet (each
 * guess succeeds with probability 1 / alphabetSize^length).
 */
export function worstCaseAgainstOneApprover(
  policy: GuessLimitPolicy,
  alphabetSize: number,
  length: number,
): { guessesPerDay: number; expectedDaysToHit: number } {
  const guessesPerDay = Math.min(policy.perApproverPerDay, policy.perAccountPerDay);
  return { guessesPerDay, expectedDaysToHit: alphabetSize ** length / guessesPerDay };
}
