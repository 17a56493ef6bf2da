/**
 * Lua scripts for the device life cycle. Each one checks and writes in a
 * single atomic step, so concurrent requests cannot slip past a rule (two
 * resends both under the cap, two wrong guesses both under the limit).
 */
import { DeviceStatus } from '@lib/domain';
import { LuaScript } from './lua-script';
import { BULLMQ_ADD_STANDARD_JOB_LUA } from './queue-job';

/**
 * Create a device (mode `create`) or request a resend (mode `resend`), apply
 * coalescing (same device, same channel, inside the window) and the send caps,
 * record the dispatch as queued and add its send job to the BullMQ queue, all
 * in one atomic step (see queue-job.ts). Nothing is written before every check
 * has passed; a coalesced request adds nothing, its dispatch's job exists.
 *
 * KEYS: 1 device, 2 device events, 3 coalesce, 4 device sends, 5 destination sends, 6 dispatch,
 *       7-15 the job's queue keys (QueueJobInsert.keys)
 * ARGV: 1 mode, 2 account key, 3 now ms, 4 now ISO, 5 coalesce ms, 6 device cap,
 *       7 destination cap, 8 window ms, 9 dispatch id, 10 channel, 11 masked destination,
 *       12 max failed attempts, 13 dispatch ttl s, 14 request id,
 *       15 session id, 16 contact type, 17 approver document, 18 pending event JSON,
 *       19-21 the job's arguments (QueueJobInsert.args; its id is the dispatch id)
 * Returns: {'queued'|'coalesced', dispatchId, channel, requestId} or
 *          {'exists'} | {'not_found'} | {'locked'} | {'invalid_status', status} |
 *          {'device_cap'|'destination_cap', retryAfterMs}
 */
export const REQUEST_DISPATCH = new LuaScript(
  'request-dispatch',
  `${BULLMQ_ADD_STANDARD_JOB_LUA}
local mode = ARGV[1]
local now = tonumber(ARGV[3])
local windowMs = tonumber(ARGV[8])

if mode == 'create' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
else
  local d = redis.call('HMGET', KEYS[1], 'account_key', 'status', 'failed_attempts')
  if (not d[1]) or d[1] ~= ARGV[2] then return {'not_found'} end
  if d[2] == 'rejected' or tonumber(d[3] or '0') >= tonumber(ARGV[12]) then return {'locked'} end
  if d[2] ~= 'pending_2fa_approval' then return {'invalid_status', d[2]} end
  local coalesced = redis.call('GET', KEYS[3])
  if coalesced then
    local sep1 = string.find(coalesced, '|', 1, true)
    local sep2 = string.find(coalesced, '|', sep1 + 1, true)
    local channel = string.sub(coalesced, sep1 + 1, sep2 - 1)
    -- Only a request for the same channel joins the pending send: asking for
    -- e-mail after an SMS that did not arrive deserves an e-mail.
    if channel == ARGV[10] then
      return {'coalesced', string.sub(coalesced, 1, sep1 - 1), channel, string.sub(coalesced, sep2 + 1)}
    end
  end
end

local function retry_after(key)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(math.max(tonumber(oldest[2]) + windowMs - now, 1000))
end

redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - windowMs)
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[6]) then return {'device_cap', retry_after(KEYS[4])} end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - windowMs)
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[7]) then return {'destination_cap', retry_after(KEYS[5])} end

local jobId = bullmq_add_standard_job(
  {KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15]},
  {ARGV[19], ARGV[20], ARGV[21]})
if tostring(jobId) ~= ARGV[9] then return redis.error_reply('ERR send job not added: ' .. tostring(jobId)) end

if mode == 'create' then
  redis.call('HSET', KEYS[1],
    'account_key', ARGV[2], 'session_id', ARGV[15], 'status', 'pending_2fa_approval',
    'contact_type', ARGV[16], 'approver_document', ARGV[17], 'created_at', ARGV[4],
    'failed_attempts', '0')
  redis.call('RPUSH', KEYS[2], ARGV[18])
end
redis.call('HSET', KEYS[1], 'latest_dispatch_id', ARGV[9])

redis.call('ZADD', KEYS[4], now, ARGV[9])
redis.call('PEXPIRE', KEYS[4], windowMs)
redis.call('ZADD', KEYS[5], now, ARGV[9])
redis.call('PEXPIRE', KEYS[5], windowMs)
if tonumber(ARGV[5]) > 0 then
  redis.call('SET', KEYS[3], ARGV[9] .. '|' .. ARGV[10] .. '|' .. ARGV[14], 'PX', ARGV[5])
end

redis.call('HSET', KEYS[6],
  'dispatch_id', ARGV[9], 'device_key', string.match(KEYS[1], '[^:]+$'), 'channel', ARGV[10],
  'state', 'queued', 'attempts', '0', 'destination', ARGV[11],
  'requested_at', ARGV[4], 'updated_at', ARGV[4])
redis.call('EXPIRE', KEYS[6], ARGV[13])
return {'queued', ARGV[9], ARGV[10], ARGV[14]}
`,
);

/**
 * Reserve one validation attempt before the token is compared, so that any
 * number of concurrent guesses can never exceed the limit.
 *
 * KEYS: 1 device. ARGV: 1 account key, 2 max failed attempts, 3 now ms
 * Returns {'reserved', tokenHash, tokenDispatchId, failedAttempts} or
 *         {'not_found'} | {'locked'} | {'invalid_status', status} | {'expired'}
 */
export const RESERVE_ATTEMPT = new LuaScript(
  'reserve-attempt',
  `
local d = redis.call('HMGET', KEYS[1], 'account_key', 'status', 'failed_attempts', 'token_hash', 'token_expires_at', 'token_dispatch_id')
if (not d[1]) or d[1] ~= ARGV[1] then return {'not_found'} end
if d[2] == 'rejected' or tonumber(d[3] or '0') >= tonumber(ARGV[2]) then return {'locked'} end
if d[2] ~= 'pending_2fa_approval' then return {'invalid_status', d[2]} end
if (not d[4]) or (not d[5]) or tonumber(d[5]) <= tonumber(ARGV[3]) then return {'expired'} end
local n = redis.call('HINCRBY', KEYS[1], 'failed_attempts', 1)
return {'reserved', d[4], d[6] or '', tostring(n)}
`,
);

/**
 * The reserved attempt matched: give the attempt back and register the device,
 * unless a resend replaced the token in the meantime.
 *
 * KEYS: 1 device, 2 events. ARGV: 1 token dispatch id seen at reservation, 2 event JSON
 * Returns {'created', createdAt} | {'changed'}
 */
export const COMPLETE_VALIDATION = new LuaScript(
  'complete-validation',
  `
local d = redis.call('HMGET', KEYS[1], 'status', 'token_dispatch_id', 'created_at')
redis.call('HINCRBY', KEYS[1], 'failed_attempts', -1)
if d[1] ~= 'pending_2fa_approval' or (d[2] or '') ~= ARGV[1] then return {'changed'} end
redis.call('HSET', KEYS[1], 'status', 'created')
redis.call('HDEL', KEYS[1], 'token_hash', 'token_expires_at')
redis.call('RPUSH', KEYS[2], ARGV[2])
return {'created', d[3]}
`,
);

/**
 * The reserved attempt did not match: it stays counted; at the limit the
 * device is locked as `rejected` and its token dropped.
 *
 * KEYS: 1 device, 2 events. ARGV: 1 max failed attempts, 2 rejected event JSON
 * Returns {'counted'|'locked', failedAttempts}
 */
export const FAIL_VALIDATION = new LuaScript(
  'fail-validation',
  `
local d = redis.call('HMGET', KEYS[1], 'status', 'failed_attempts')
local n = tonumber(d[2] or '0')
if n >= tonumber(ARGV[1]) then
  if d[1] == 'pending_2fa_approval' then
    redis.call('HSET', KEYS[1], 'status', 'rejected')
    redis.call('HDEL', KEYS[1], 'token_hash', 'token_expires_at')
    redis.call('RPUSH', KEYS[2], ARGV[2])
  end
  return {'locked', tostring(n)}
end
return {'counted', tostring(n)}
`,
);

/**
 * KEYS: 1 device, 2 events. ARGV: 1 account key, 2 disabled event JSON
 * Returns {'disabled', createdAt} | {'already', createdAt} | {'not_found'}
 */
export const DISABLE_DEVICE = new LuaScript(
  'disable-device',
  `
local d = redis.call('HMGET', KEYS[1], 'account_key', 'status', 'created_at')
if (not d[1]) or d[1] ~= ARGV[1] then return {'not_found'} end
if d[2] == 'disabled' then return {'already', d[3]} end
redis.call('HSET', KEYS[1], 'status', 'disabled')
redis.call('HDEL', KEYS[1], 'token_hash', 'token_expires_at')
redis.call('RPUSH', KEYS[2], ARGV[2])
return {'disabled', d[3]}
`,
);

/** A Lua table literal with every device status as a key, for scripts that tell a device record from a stray hash. */
const DEVICE_STATUS_SET = `{ ${Object.values(DeviceStatus)
  .map((s) => `['${s}'] = true`)
  .join(', ')} }`;

/**
 * Worker, before handing a token to the provider, in one round trip: find the
 * device's approver on the job's account, then store the token's keyed hash
 * on the device (replacing, and so invalidating, the previous one) if this
 * dispatch is still the device's latest and the device still waits for
 * approval.
 *
 * The checks, in order:
 * 1. A device of the job's account whose approver (`approver_document`) is no
 *    longer on the account: the dispatch fails for good (`approver_missing`),
 *    recorded on the dispatch here.
 * 2. A dispatch already recorded as sent is left alone: its job is running
 *    again because the worker that sent it died before acknowledging the job
 *    (BullMQ's stalled-job recovery), and sending it again would be a
 *    duplicate.
 * 3. No device (`gone`), a device no longer pending (`not_pending`), or a
 *    later dispatch on the device (`superseded`): the dispatch is skipped.
 * A device record is a hash with an `account_key` and a known status; the
 * approver is looked up only for one (a stray hash counts as no device).
 *
 * KEYS: 1 device, 2 dispatch, 3 the job's account.
 * ARGV: 1 dispatch id, 2 token hash, 3 expires at ms, 4 now ISO, 5 attempt, 6 the job's account key
 * Returns {'armed', approver JSON} ({'armed'} alone when no approver was found:
 *         the device belongs to another account, or is a stray hash) | {'approver_missing'} |
 *         {'already_sent'} | {'gone'} | {'not_pending'} | {'superseded'}
 */
export const ARM_TOKEN = new LuaScript(
  'arm-token',
  `
local d = redis.call('HMGET', KEYS[1], 'account_key', 'status', 'approver_document', 'latest_dispatch_id')
local statuses = ${DEVICE_STATUS_SET}
local approver = nil
if d[1] and d[1] ~= '' and statuses[d[2]] then
  local raw = redis.call('GET', KEYS[3])
  local account = raw and cjson.decode(raw)
  if type(account) == 'table' then
    for _, a in ipairs(account.approvers) do
      if a.document_number == d[3] then
        approver = a
        break
      end
    end
  end
  if d[1] == ARGV[6] and not approver then
    redis.call('HSET', KEYS[2], 'state', 'failed', 'last_error_code', 'approver_missing', 'attempts', ARGV[5], 'updated_at', ARGV[4])
    return {'approver_missing'}
  end
end
if redis.call('HGET', KEYS[2], 'state') == 'sent' then return {'already_sent'} end
if not d[2] then
  redis.call('HSET', KEYS[2], 'state', 'skipped', 'last_error_code', 'device_missing', 'updated_at', ARGV[4])
  return {'gone'}
end
if d[2] ~= 'pending_2fa_approval' then
  redis.call('HSET', KEYS[2], 'state', 'skipped', 'last_error_code', 'device_' .. d[2], 'updated_at', ARGV[4])
  return {'not_pending'}
end
if d[4] ~= ARGV[1] then
  redis.call('HSET', KEYS[2], 'state', 'skipped', 'last_error_code', 'superseded', 'updated_at', ARGV[4])
  return {'superseded'}
end
redis.call('HSET', KEYS[1], 'token_hash', ARGV[2], 'token_expires_at', ARGV[3], 'token_dispatch_id', ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'sending', 'attempts', ARGV[5], 'updated_at', ARGV[4])
if approver then return {'armed', cjson.encode(approver)} end
return {'armed'}
`,
);

/**
 * Worker, after the provider accepted the message: record it, remember which
 * dispatch the provider's message id belongs to (for delivery receipts), and
 * restart the token's lifetime from the hand-off if the token is still this
 * dispatch's.
 *
 * KEYS: 1 device, 2 dispatch, 3 provider message → dispatch id.
 * ARGV: 1 dispatch id, 2 provider message id, 3 now ISO, 4 expires at ms, 5 attempt, 6 provider,
 *       7 provider message mapping ttl s
 */
export const MARK_SENT = new LuaScript(
  'mark-sent',
  `
if redis.call('HGET', KEYS[1], 'token_dispatch_id') == ARGV[1] and redis.call('HEXISTS', KEYS[1], 'token_hash') == 1 then
  redis.call('HSET', KEYS[1], 'token_expires_at', ARGV[4])
end
redis.call('HSET', KEYS[2], 'state', 'sent', 'provider_message_id', ARGV[2], 'provider', ARGV[6], 'sent_at', ARGV[3], 'updated_at', ARGV[3], 'attempts', ARGV[5])
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[7])
return 1
`,
);

/**
 * API, on a provider's delivery receipt: record the message's delivery status
 * on its dispatch. Receipts can arrive out of order (a late `sent` after
 * `delivered`), so a status never replaces one that comes later in the
 * message's life (rank given by the caller).
 *
 * KEYS: 1 dispatch. ARGV: 1 provider message id, 2 status, 3 status rank, 4 error code ('' for none), 5 now ISO
 * Returns 'recorded' | 'stale' | 'gone' (no such dispatch) | 'mismatch' (the dispatch carried another message)
 */
export const RECORD_DELIVERY = new LuaScript(
  'record-delivery',
  `
local d = redis.call('HMGET', KEYS[1], 'dispatch_id', 'provider_message_id', 'delivery_rank')
if not d[1] then return 'gone' end
if d[2] ~= ARGV[1] then return 'mismatch' end
if tonumber(d[3] or '-1') > tonumber(ARGV[3]) then return 'stale' end
redis.call('HSET', KEYS[1], 'delivery_status', ARGV[2], 'delivery_rank', ARGV[3], 'delivery_updated_at', ARGV[5])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'delivery_error_code', ARGV[4])
else
  redis.call('HDEL', KEYS[1], 'delivery_error_code')
end
return 'recorded'
`,
);
