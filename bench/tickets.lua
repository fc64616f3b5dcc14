-- wrk script for M1: POST /v1/tickets with a unique folio per request.
-- FACTURO_BENCH_KEY holds the API key.  Each wrk thread gets its own
-- random prefix so runs never collide with earlier ones.
-- FACTURO_BENCH_DATE (optional): the tickets' local date-time, so they
-- can still be self-invoiced (M2 invoices them); default 2026-11-20T12:30:00.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local counter, prefix = 0, ""
local key = os.getenv("FACTURO_BENCH_KEY") or ""
local date = os.getenv("FACTURO_BENCH_DATE") or "2026-11-20T12:30:00"
local body = '{"branch":"B01","folio_number":"%s","date":"' .. date .. '",' ..
  '"payment_form":"01","items":[{"quantity":2,"product":{"description":' ..
  '"Cafe americano","product_key":"90101501","unit_key":"H87","price":' ..
  '"116.00","tax_included":true,"taxes":[{"type":"IVA","rate":"0.16"}]}},' ..
  '{"quantity":"3","discount":"1.50","product":{"description":"Galleta",' ..
  '"product_key":"50181900","unit_key":"H87","price":"10.50",' ..
  '"tax_included":false}}]}'

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  prefix = string.format("%d-%d-", tid or 0, math.random(1, 2000000000))
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v1/tickets",
    { ["Authorization"] = "Bearer " .. key,
      ["Content-Type"] = "application/json" },
    string.format(body, prefix .. counter))
end

local bad = 0
function response(status, headers, body)
  if status ~= 201 then bad = bad + 1 end
end
