-- wrk -s bench/gate.lua: POST .../loans/{id}/disbursement with body "{}",
-- alternating per thread between
--   * an eligible loan not asked about before (odd requests): thread t takes
--     BENCH_POOL_BASE + 1 + ((t-1) + threads*k) mod BENCH_POOL_N, so every
--     eligible loan is asked about once and the answer is "allowed" (until
--     the pool runs out, when it wraps and answers turn "already_disbursed");
--   * a loan in its cooling period (even requests), drawn at random from the
--     even ids BENCH_COOL_BASE+2 .. BENCH_COOL_BASE+2*BENCH_COOL_N: "refused".
-- With BENCH_PAYEE_N > 0 (bench/fraud.sh) every request names a payee instead,
-- {"payee": {"kind": "account", "id": "BP-<k>"}}, k drawn at random from
-- 1 .. BENCH_PAYEE_N.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local pool_base = tonumber(os.getenv("BENCH_POOL_BASE") or "2000000000")
local pool_n = tonumber(os.getenv("BENCH_POOL_N") or "1000")
local cool_base = tonumber(os.getenv("BENCH_COOL_BASE") or "1000000")
local cool_n = tonumber(os.getenv("BENCH_COOL_N") or "1000")
local payee_n = tonumber(os.getenv("BENCH_PAYEE_N") or "0")
local counter = 0
local prefix, headers

function init(args)
	common.seed()
	prefix = "/v1/lenders/" .. common.lender .. "/loans/"
	headers = common.headers(true)
end

function request()
	counter = counter + 1
	local id
	if counter % 2 == 1 then
		local k = (counter - 1) / 2
		id = pool_base + 1 + ((tid - 1) + common.nthreads * k) % pool_n
	else
		id = cool_base + 2 * math.random(cool_n)
	end
	local body = "{}"
	if payee_n > 0 then
		body = string.format('{"payee":{"kind":"account","id":"BP-%d"}}', math.random(payee_n))
	end
	return wrk.format("POST", string.format("%s%.0f/disbursement", prefix, id), headers, body)
end
