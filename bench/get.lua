-- wrk script for M1 (read side): GET /v1/tickets/{id} of one ticket.
-- FACTURO_BENCH_KEY holds the API key, FACTURO_BENCH_TICKET the id.
local key = os.getenv("FACTURO_BENCH_KEY") or ""
local id = os.getenv("FACTURO_BENCH_TICKET") or "1"
wrk.method = "GET"
wrk.path = "/v1/tickets/" .. id
wrk.headers["Authorization"] = "Bearer " .. key
