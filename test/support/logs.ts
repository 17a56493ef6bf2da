/**
 * Reading the apps' output: each line is one pino JSON object (level as a
 * word, `msg`, and fields such as `requestId`, `dispatchId`, `context`).
 */

export interface LogLine {
  level: string;
  time: string;
  msg: string;
  service?: string;
  context?: string;
  requestId?: string;
  dispatchId?: string;
  [field: string]: unknown;
}

/** The line as a log object, or undefined if it is not one. */
export function parseLogLine(line: string): LogLine | undefined {
  try {
    const value = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

export function parseLogLines(lines: string[]): LogLine[] {
  return lines.map(parseLogLine).filter((l): l is LogLine => l !== undefined);
}

/**
 * Lines logged at error level or above (defects, by the apps' convention;
 * dependency outages are warnings), and any line that is not JSON and
 * mentions an error (a crash printed to stderr).
 */
export function errorLines(lines: string[]): string[] {
  return lines.filter((line) => {
    const log = parseLogLine(line);
    return log ? log.level === 'error' || log.level === 'fatal' : /\berror\b/i.test(line);
  });
}
