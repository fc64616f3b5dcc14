-- wrk script for M3 and M4: GET of FACTURO_BENCH_PATH (an invoice list
-- page, a stored XML or PDF) with the API key in FACTURO_BENCH_KEY.
wrk.method = "GET"
wrk.path = os.getenv("FACTURO_BENCH_PATH") or "/v1/invoices"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("FACTURO_BENCH_KEY") or "")
