-- wrk script for M2: POST /v1/tickets/{id}/invoice (the cashier's path:
-- look-up, confirm, seal, sandbox stamp, one durable transaction) for
-- tickets created beforehand, so only the invoice step is timed.
--   wrk ... -s bench/invoice.lua URL -- IDS_FILE WRK_THREADS
-- IDS_FILE: one ticket id a line; wrk thread t takes lines t, t+T, ...
-- A thread stops once every one of its ids has been sent (requests still
-- in flight then are not counted; wrk itself keeps waiting until -d is
-- over, so its Requests/sec is not the rate: done() computes it).
-- FACTURO_BENCH_KEY holds the API key.  With FACTURO_BENCH_IDEM=1 each
-- request carries an Idempotency-Key (as a careful POS sends), which on
-- SQLite puts the issue into the group commit of POSTs; without it each
-- invoice is its own transaction (docs/invoices.md, src/api/invoices.c).
-- done() prints "M2 created=… existing=… other=… seconds=… rate=…":
-- created = 201 answers (new invoices), existing = 200 (a ticket that
-- already had its invoice: only the few repeats sent while a thread
-- stops), other = anything else (an error); rate = 201 answers per second
-- between the first and the last answer (CLOCK_MONOTONIC through LuaJIT's
-- FFI), not counting each thread's first answer.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime (int clk, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local key = os.getenv("FACTURO_BENCH_KEY") or ""
local receiver = '{"customer":{"legal_name":"UNIVERSIDAD ROBOTICA ESPANOLA",' ..
  '"tax_id":"URE180429TM6","tax_system":"601","address":{"zip":"86991"}},' ..
  '"use":"G03"}'
local headers = { ["Authorization"] = "Bearer " .. key,
                  ["Content-Type"] = "application/json" }
local idem = os.getenv("FACTURO_BENCH_IDEM") == "1"

local threads, count = {}, 0
function setup(thread)
  thread:set("tid", count)
  count = count + 1
  table.insert(threads, thread)
end

local ids, next_i = {}, 1
function init(args)
  local file, nthreads = args[1], tonumber(args[2]) or 1
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == tid then table.insert(ids, line) end
    n = n + 1
  end
end

function request()
  local id = ids[next_i] or ids[#ids]
  if next_i <= #ids then next_i = next_i + 1 end
  if idem then headers["Idempotency-Key"] = "bench-invoice-" .. (id or "0") end
  return wrk.format("POST", "/v1/tickets/" .. (id or "0") .. "/invoice",
                    headers, receiver)
end

created, existing, other, t_first, t_last = 0, 0, 0, 0, 0
function response(status, hdrs, body)
  t_last = now()
  if t_first == 0 then t_first = t_last end
  if status == 201 then created = created + 1
  elseif status == 200 then existing = existing + 1
  else
    other = other + 1
    if other <= 3 then io.stderr:write("M2 status " .. status .. ": " .. body .. "\n") end
  end
  if next_i > #ids then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local c, e, o, first, last, n = 0, 0, 0, math.huge, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    e = e + t:get("existing")
    o = o + t:get("other")
    if t:get("t_first") > 0 then
      n = n + 1
      first = math.min(first, t:get("t_first"))
      last = math.max(last, t:get("t_last"))
    end
  end
  local s = n > 0 and last - first or 0
  io.write(string.format("M2 created=%d existing=%d other=%d seconds=%.3f rate=%.1f\n",
                         c, e, o, s, s > 0 and (c - n) / s or 0))
end
