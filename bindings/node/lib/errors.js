'use strict';
// Statuses (fixed forever by the C header) and the Error they become.

const Status = Object.freeze({
  OK: 0,
  E_INVALID: -1,
  E_NOMEM: -2,
  E_IO: -3,
  E_FORMAT: -4,
  E_CORRUPT: -5,
  E_LIMIT: -6,
  E_UNSUPPORTED: -7,
  E_MISMATCH: -8,
  E_NOT_FOUND: -9,
  E_CANCELLED: -10,
  E_MODEL: -11,
  E_STORE: -12,
  E_INTERNAL: -13,
});

const NAMES = new Map(Object.entries(Status).map(([name, value]) => [value, name]));

/** The C constant's name for a status, e.g. "CEREBRO_E_NOT_FOUND". */
function statusCode(status) {
  const name = NAMES.get(status);
  return name ? `CEREBRO_${name}` : `CEREBRO_STATUS_${status}`;
}

/** A failed libcerebro call: .status (number), .code ("CEREBRO_E_..."), and
 *  the library's detail as the message. */
class CerebroError extends Error {
  constructor(message, status) {
    super(message || statusCode(status));
    this.name = 'CerebroError';
    this.status = status;
    this.code = statusCode(status);
  }
}

module.exports = { Status, statusCode, CerebroError };
