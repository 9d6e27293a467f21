// Typed errors and the documented exit codes. Every failure that reaches main()
// becomes exactly one line on stderr plus one of these codes.

export const ExitCode = {
  Ok: 0,
  /** Anything else: service error, network fault, unexpected reply. */
  Failure: 1,
  /** Bad flags or arguments, a rule violation, a refused confirmation. */
  Usage: 2,
  /** The named service, endpoint, workspace or model does not exist. */
  NotFound: 3,
  /** Sign-in failed, or the credential/key/token was rejected (401/403). */
  Auth: 4,
  /** Interrupted by Ctrl-C / SIGTERM. */
  Interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class AmlauthError extends Error {
  readonly exitCode: ExitCodeValue;
  /** One short "what to do next" sentence, printed after the message. */
  readonly hint: string | undefined;
  constructor(message: string, exitCode: ExitCodeValue = ExitCode.Failure, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = opts.hint;
  }
}

/** Wrong flags/arguments/config values. Exit 2. */
export class UsageError extends AmlauthError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.Usage, opts);
  }
}

/** An ACI/AKS/v2 auth rule would be broken. Exit 2, raised before any network call. */
export class RuleViolationError extends AmlauthError {
  readonly rule: string;
  constructor(rule: string, message: string, opts: { hint?: string } = {}) {
    super(message, ExitCode.Usage, opts);
    this.rule = rule;
  }
}

export class NotFoundError extends AmlauthError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.NotFound, opts);
  }
}

export class AuthError extends AmlauthError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.Auth, opts);
  }
}

/** The service answered with an error (status >= 400 other than 401/403/404) or an unusable body. */
export class ServiceError extends AmlauthError {
  readonly status: number | undefined;
  readonly code: string | undefined;
  constructor(message: string, opts: { status?: number; code?: string; hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.Failure, opts);
    this.status = opts.status;
    this.code = opts.code;
  }
}

/** No answer: DNS, refused, reset, TLS, timeout. */
export class NetworkError extends AmlauthError {
  readonly reason: string;
  constructor(message: string, reason: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.Failure, opts);
    this.reason = reason;
  }
}

/**
 * A non-idempotent request (regenerate, deploy) failed in a way that leaves it unknown whether
 * the server applied it. Callers reconcile by reading state before deciding to retry.
 */
export class MaybeAppliedError extends AmlauthError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, ExitCode.Failure, opts);
  }
}

export class InterruptedError extends AmlauthError {
  constructor(message = "interrupted", opts: { hint?: string } = {}) {
    super(message, ExitCode.Interrupted, opts);
  }
}
