/**
 * Lua scripts for the device life cycle. Each one checks and writes in a
 * single atomic step, so concurrent requests cannot slip past a rule (two
 * resends both under the cap, two wrong guesses both under the limit).
 */
import { DeviceStatus } from '@lib/domain';
import { LuaScript } from './lua-script';

/**
 * Create a device (mode `create`) or request a resend (mode `resend`), apply
 * the new-device cap per account (create), coalescing (same device, same
 * channel, inside the window) and the send caps, record the dispatch as
 * queued with its code nonce, and add its id to the pending dispatches, all
 * in one atomic step. Nothing is written before every check has passed; a
 * coalesced request adds nothing.
 *
 * The caller then adds the dispatch's send job to the queue (its id is the
 * dispatch id, so adding it twice is harmless), on a coalesced request too.
 * A dispatch stays pending until the worker takes it up (ARM_TOKEN), so one
 * whose job was never added (the api died in between) is found and queued
 * again by the worker's repair (pendingDispatches).
 *
 * The code nonce (a CSPRNG value, see TokenCrypto) lives only on the dispatch
 * record: never in the job, a response or a log.
 *
 * KEYS: 1 device, 2 device events, 3 coalesce, 4 device sends, 5 destination sends, 6 dispatch,
 *       7 the account's device creations, 8 pending dispatches
 * ARGV: 1 mode, 2 account key, 3 now ms, 4 now ISO, 5 coalesce ms, 6 device cap,
 *       7 destination cap, 8 window ms, 9 dispatch id, 10 channel, 11 masked destination,
 *       12 max failed attempts, 13 dispatch ttl s, 14 request id,
 *       15 session id, 16 contact type, 17 approver document, 18 pending event JSON,
 *       19 code nonce, 20 device key, 21 device creation cap, 22 device creation window ms,
 *       23 pending device ttl s
 * Returns: {'queued'|'coalesced', dispatchId, channel, requestId} or
 *          {'exists'} | {'not_found'} | {'locked'} | {'invalid_status', status} |
 *          {'device_cap'|'destination_cap'|'creation_cap', retryAfterMs}
 */
export const REQUEST_DISPATCH = new LuaScript(
  'request-dispatch',
  `
local mode = ARGV[1]
local now = tonumber(ARGV[3])
local windowMs = tonumber(ARGV[8])

local function retry_after(key, window)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(math.max(tonumber(oldest[2]) + window - now, 1000))
end

if mode == 'create' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
  local creationWindow = tonumber(ARGV[22])
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - creationWindow)
  if redis.call('ZCARD', KEYS[7]) >= tonumber(ARGV[21]) then return {'creation_cap', retry_after(KEYS[7], creationWindow)} end
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

redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - windowMs)
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[6]) then return {'device_cap', retry_after(KEYS[4], windowMs)} end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - windowMs)
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[7]) then return {'destination_cap', retry_after(KEYS[5], windowMs)} end

if mode == 'create' then
  redis.call('HSET', KEYS[1],
    'account_key', ARGV[2], 'session_id', ARGV[15], 'status', 'pending_2fa_approval',
    'contact_type', ARGV[16], 'approver_document', ARGV[17], 'created_at', ARGV[4],
    'failed_attempts', '0')
  redis.call('RPUSH', KEYS[2], ARGV[18])
  redis.call('ZADD', KEYS[7], now, ARGV[20])
  redis.call('PEXPIRE', KEYS[7], ARGV[22])
end
redis.call('HSET', KEYS[1], 'latest_dispatch_id', ARGV[9])
-- A device not validated yet lives on for its lifetime after each send
-- request (validation makes it permanent: COMPLETE_VALIDATION).
redis.call('EXPIRE', KEYS[1], ARGV[23])
redis.call('EXPIRE', KEYS[2], ARGV[23])

redis.call('ZADD', KEYS[4], now, ARGV[9])
redis.call('PEXPIRE', KEYS[4], windowMs)
redis.call('ZADD', KEYS[5], now, ARGV[9])
redis.call('PEXPIRE', KEYS[5], windowMs)
if tonumber(ARGV[5]) > 0 then
  redis.call('SET', KEYS[3], ARGV[9] .. '|' .. ARGV[10] .. '|' .. ARGV[14], 'PX', ARGV[5])
end

redis.call('HSET', KEYS[6],
  'dispatch_id', ARGV[9], 'account_key', ARGV[2], 'device_key', ARGV[20], 'channel', ARGV[10],
  'request_id', ARGV[14], 'code_nonce', ARGV[19],
  'state', 'queued', 'attempts', '0', 'destination', ARGV[11],
  'requested_at', ARGV[4], 'updated_at', ARGV[4])
redis.call('EXPIRE', KEYS[6], ARGV[13])
redis.call('ZADD', KEYS[8], now, ARGV[9])
return {'queued', ARGV[9], ARGV[10], ARGV[14]}
`,
);

/**
 * Reserve one validation attempt before the code is compared, so that any
 * number of concurrent guesses can never exceed a limit: the device's own
 * (failed_attempts), and the guess budgets over a rolling window of the
 * approver (account + document number) and of the whole account, across
 * every device. A reservation is a member `<document>|<attempt id>` of the
 * account's guess window; a match gives it back (COMPLETE_VALIDATION), a miss
 * keeps it. An expired token (or none yet) reserves nothing.
 *
 * KEYS: 1 device, 2 the account's guess window.
 * ARGV: 1 account key, 2 max failed attempts, 3 now ms, 4 approver budget, 5 account budget,
 *       6 guess window ms, 7 attempt id
 * Returns {'reserved', tokenDispatchId, codeNonce, failedAttempts, guess member} or
 *         {'not_found'} | {'locked'} | {'invalid_status', status} | {'expired'} |
 *         {'approver_budget'|'account_budget', retryAfterMs}
 */
export const RESERVE_ATTEMPT = new LuaScript(
  'reserve-attempt',
  `
local d = redis.call('HMGET', KEYS[1], 'account_key', 'status', 'failed_attempts', 'token_nonce', 'token_expires_at', 'token_dispatch_id', 'approver_document')
if (not d[1]) or d[1] ~= ARGV[1] then return {'not_found'} end
if d[2] == 'rejected' or tonumber(d[3] or '0') >= tonumber(ARGV[2]) then return {'locked'} end
if d[2] ~= 'pending_2fa_approval' then return {'invalid_status', d[2]} end
local now = tonumber(ARGV[3])
if (not d[4]) or (not d[5]) or (not d[6]) or tonumber(d[5]) <= now then return {'expired'} end

local window = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local guesses = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local retry = function(score) return tostring(math.max(tonumber(score) + window - now, 1000)) end
if #guesses / 2 >= tonumber(ARGV[5]) then return {'account_budget', retry(guesses[2])} end
local mine = d[7] .. '|'
local count, oldest = 0, nil
for i = 1, #guesses, 2 do
  if string.sub(guesses[i], 1, #mine) == mine then
    count = count + 1
    oldest = oldest or guesses[i + 1]
  end
end
if count >= tonumber(ARGV[4]) then return {'approver_budget', retry(oldest)} end

local member = mine .. ARGV[7]
redis.call('ZADD', KEYS[2], now, member)
redis.call('PEXPIRE', KEYS[2], window)
local n = redis.call('HINCRBY', KEYS[1], 'failed_attempts', 1)
return {'reserved', d[6], d[4], tostring(n), member}
`,
);

/**
 * The reserved attempt matched: give the attempt back (on the device and in
 * the guess window) and register the device, unless a resend replaced the
 * token in the meantime (or the device expired). A registered device and its
 * history no longer expire.
 *
 * KEYS: 1 device, 2 events, 3 the account's guess window.
 * ARGV: 1 token dispatch id seen at reservation, 2 event JSON, 3 guess member
 * Returns {'created', createdAt} | {'changed'}
 */
export const COMPLETE_VALIDATION = new LuaScript(
  'complete-validation',
  `
local d = redis.call('HMGET', KEYS[1], 'status', 'token_dispatch_id', 'created_at')
redis.call('ZREM', KEYS[3], ARGV[3])
if not d[1] then return {'changed'} end
redis.call('HINCRBY', KEYS[1], 'failed_attempts', -1)
if d[1] ~= 'pending_2fa_approval' or (d[2] or '') ~= ARGV[1] then return {'changed'} end
redis.call('HSET', KEYS[1], 'status', 'created')
redis.call('HDEL', KEYS[1], 'token_nonce', 'token_expires_at')
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
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
    redis.call('HDEL', KEYS[1], 'token_nonce', 'token_expires_at')
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
redis.call('HDEL', KEYS[1], 'token_nonce', 'token_expires_at')
redis.call('RPUSH', KEYS[2], ARGV[2])
return {'disabled', d[3]}
`,
);

/** A Lua table literal with every device status as a key, for scripts that tell a device record from a stray hash. */
const DEVICE_STATUS_SET = `{ ${Object.values(DeviceStatus)
  .map((s) => `['${s}'] = true`)
  .join(', ')} }`;

/**
 * Worker, before handing a code to the provider, in one round trip: decide
 * from the store alone whether this job may send, and to whom, then arm the
 * dispatch's code on the device (replacing, and so invalidating, the
 * previous one). The job names its dispatch and nothing else the send
 * depends on: the device, its account, the channel and the approver are read
 * here, from the dispatch record the api wrote. Every check runs before the
 * first write, and a refused job writes only its refusal.
 *
 * The checks, in order:
 * 1. The job is the dispatch's own and says what the store says: its id is
 *    the dispatch id, its data is well-formed (checked by the caller) and
 *    names the same dispatch and request, and it is in the queue of the
 *    dispatch's channel (whose provider's rate limit it must obey).
 *    Otherwise the job was edited or forged (the dashboard can do both): it
 *    is `refused`, recorded on the job's dispatch (state `refused`, unless
 *    already sent) and on the dispatch its data names (a refusal count), and
 *    nothing is armed.
 * 2. A dispatch already recorded as sent is left alone: its job is running
 *    again because the worker that sent it died before acknowledging the job
 *    (BullMQ's stalled-job recovery), and sending it again would be a
 *    duplicate.
 * 3. No device (`gone`), a device no longer pending (`not_pending`), or a
 *    later dispatch on the device (`superseded`): the dispatch is skipped.
 * 4. The device's approver is no longer on the account (`approver_missing`),
 *    or the send is an SMS to a number outside the allowed country calling
 *    codes (`country_not_allowed`, see smsDestinationAllowed): the dispatch
 *    fails for good.
 *
 * Whatever the outcome for the job's own dispatch, it is no longer pending
 * (REQUEST_DISPATCH): its job has run.
 *
 * KEYS: 1 the job's dispatch (by job id), 2 the dispatch the job's data names, 3 pending dispatches.
 * ARGV: 1 job id, 2 data's dispatch id, 3 data's request id, 4 '1' when the data is well-formed,
 *       5 now ISO, 6 token expires at ms, 7 attempt, 8 account key template, 9 device key template
 *       (RedisKeys templates: \1 for the account key, \2 for the device key),
 *       10 allowed SMS country calling codes, comma-separated, 11 the channel of the job's queue
 * Returns {'armed', accountKey, deviceKey, channel, codeNonce, approver JSON, requested at ISO} |
 *         {'refused', reason} | {'unknown_dispatch'} | {'already_sent'} | {'gone'} |
 *         {'not_pending'} | {'superseded'} | {'approver_missing'} | {'country_not_allowed'}
 */
export const ARM_TOKEN = new LuaScript(
  'arm-token',
  `
local function key_of(template, accountKey, deviceKey)
  local key = string.gsub(template, '\\1', function() return accountKey end)
  if deviceKey then key = string.gsub(key, '\\2', function() return deviceKey end) end
  return key
end
local function set_state(key, state, code)
  redis.call('HSET', key, 'state', state, 'last_error_code', code, 'attempts', ARGV[7], 'updated_at', ARGV[5])
end

local p = redis.call('HMGET', KEYS[1], 'dispatch_id', 'account_key', 'device_key', 'channel', 'request_id', 'state', 'code_nonce', 'requested_at')
if p[1] then redis.call('ZREM', KEYS[3], p[1]) end
local trusted = p[1] and ARGV[4] == '1' and ARGV[1] == p[1] and ARGV[2] == p[1] and ARGV[3] == p[5] and ARGV[11] == p[4]
if not trusted then
  local reason = 'job_unknown'
  if p[1] then reason = (ARGV[11] == p[4]) and 'job_data_mismatch' or 'job_wrong_queue' end
  if p[1] and p[6] ~= 'sent' then
    redis.call('HSET', KEYS[1], 'state', 'refused', 'last_error_code', reason, 'updated_at', ARGV[5])
  end
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HINCRBY', KEYS[2], 'refused_jobs', 1)
    redis.call('HSET', KEYS[2], 'last_refusal', reason, 'last_refused_at', ARGV[5])
  end
  return {'refused', reason}
end
if p[6] == 'sent' then return {'already_sent'} end

local deviceKey = key_of(ARGV[9], p[2], p[3])
local d = redis.call('HMGET', deviceKey, 'account_key', 'status', 'approver_document', 'latest_dispatch_id')
local statuses = ${DEVICE_STATUS_SET}
if d[1] ~= p[2] or not statuses[d[2]] then
  redis.call('HSET', KEYS[1], 'state', 'skipped', 'last_error_code', 'device_missing', 'updated_at', ARGV[5])
  return {'gone'}
end
if d[2] ~= 'pending_2fa_approval' then
  redis.call('HSET', KEYS[1], 'state', 'skipped', 'last_error_code', 'device_' .. d[2], 'updated_at', ARGV[5])
  return {'not_pending'}
end
if d[4] ~= p[1] then
  redis.call('HSET', KEYS[1], 'state', 'skipped', 'last_error_code', 'superseded', 'updated_at', ARGV[5])
  return {'superseded'}
end

local raw = redis.call('GET', key_of(ARGV[8], p[2]))
local account = raw and cjson.decode(raw)
local approver = nil
if type(account) == 'table' and type(account.approvers) == 'table' then
  for _, a in ipairs(account.approvers) do
    if a.document_number == d[3] then
      approver = a
      break
    end
  end
end
if not approver then
  set_state(KEYS[1], 'failed', 'approver_missing')
  return {'approver_missing'}
end
if p[4] == 'sms' then
  local allowed = false
  for code in string.gmatch(ARGV[10], '[^,]+') do
    local prefix = '+' .. code
    if type(approver.phone_number) == 'string' and string.sub(approver.phone_number, 1, #prefix) == prefix then allowed = true end
  end
  if not allowed then
    set_state(KEYS[1], 'failed', 'country_not_allowed')
    return {'country_not_allowed'}
  end
end

redis.call('HSET', deviceKey, 'token_nonce', p[7], 'token_expires_at', ARGV[6], 'token_dispatch_id', p[1])
redis.call('HSET', KEYS[1], 'state', 'sending', 'attempts', ARGV[7], 'updated_at', ARGV[5])
return {'armed', p[2], p[3], p[4], p[7], cjson.encode(approver), p[8]}
`,
);

/**
 * Worker, after the provider accepted the message: record it, remember which
 * dispatch the provider's message id belongs to (for delivery receipts), and
 * restart the token's lifetime from the hand-off if the token is still this
 * dispatch's. A record that expired meanwhile is not written again (a key
 * without its lifetime would never expire).
 *
 * KEYS: 1 device, 2 dispatch, 3 provider message → dispatch id.
 * ARGV: 1 dispatch id, 2 provider message id, 3 now ISO, 4 expires at ms, 5 attempt, 6 provider,
 *       7 provider message mapping ttl s
 */
export const MARK_SENT = new LuaScript(
  'mark-sent',
  `
if redis.call('HGET', KEYS[1], 'token_dispatch_id') == ARGV[1] and redis.call('HEXISTS', KEYS[1], 'token_nonce') == 1 then
  redis.call('HSET', KEYS[1], 'token_expires_at', ARGV[4])
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'state', 'sent', 'provider_message_id', ARGV[2], 'provider', ARGV[6], 'sent_at', ARGV[3], 'updated_at', ARGV[3], 'attempts', ARGV[5])
end
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

/**
 * Worker, every repair interval: the dispatches still pending (their job not
 * taken up yet) since before `olderThanMs`, oldest first, with their request
 * ids, channels and when they were requested. A pending dispatch whose record
 * is gone (expired) is dropped here.
 *
 * KEYS: 1 pending dispatches. ARGV: 1 older than ms, 2 limit, 3 dispatch key template (\1 for the id)
 * Returns a flat list: dispatchId, requestId, channel, requested at ms, dispatchId…
 */
export const PENDING_DISPATCHES = new LuaScript(
  'pending-dispatches',
  `
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))) do
  table.insert(out, id)
end
local found = {}
for i = 1, #out, 2 do
  local d = redis.call('HMGET', (string.gsub(ARGV[3], '\\1', function() return out[i] end)), 'request_id', 'channel')
  if d[1] then
    table.insert(found, out[i])
    table.insert(found, d[1])
    table.insert(found, d[2] or '')
    table.insert(found, out[i + 1])
  else
    redis.call('ZREM', KEYS[1], out[i])
  end
end
return found
`,
);

/**
 * Worker's repair: a dispatch pending too long to be worth sending is no
 * longer pending; if it never got a job (still `queued`), it is recorded as
 * failed (`not_queued`).
 *
 * KEYS: 1 pending dispatches, 2 dispatch. ARGV: 1 dispatch id, 2 '1' when it has no job, 3 now ISO
 */
export const DROP_PENDING = new LuaScript(
  'drop-pending',
  `
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '1' and redis.call('HGET', KEYS[2], 'state') == 'queued' then
  redis.call('HSET', KEYS[2], 'state', 'failed', 'last_error_code', 'not_queued', 'updated_at', ARGV[3])
end
return 1
`,
);

/**
 * Worker, on a failed attempt: record it on the dispatch, unless the record
 * expired meanwhile (see MARK_SENT).
 *
 * KEYS: 1 dispatch. ARGV: 1 state, 2 error code, 3 attempt, 4 now ISO
 */
export const MARK_FAILURE = new LuaScript(
  'mark-failure',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'last_error_code', ARGV[2], 'attempts', ARGV[3], 'updated_at', ARGV[4])
return 1
`,
);
