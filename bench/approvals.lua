-- wrk -s bench/approvals.lua: POST /v1/lenders/{lender}/loans, each with a
-- new loan_id (BENCH_ID_BASE + thread * 10^8 + a per-thread counter) and a
-- borrower drawn from BENCH_IIN_N (default 300) valid IINs, the first ones
-- common.iins() makes. The loan: online, 700000.00
-- (cooling required), unsecured, not first-time, approved and consented at
-- the script's start (UTC).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local base = tonumber(os.getenv("BENCH_ID_BASE") or "5000000000")
local iin_n = tonumber(os.getenv("BENCH_IIN_N") or "300")
local counter = 0
local iins, path, headers, ts

function init(args)
	common.seed()
	iins = common.iins(iin_n)
	path = "/v1/lenders/" .. common.lender .. "/loans"
	headers = common.headers(true)
	ts = os.date("!%Y-%m-%dT%H:%M:%S+00:00")
end

function request()
	counter = counter + 1
	local id = base + tid * 100000000 + counter
	local body = string.format(
		'{"loan_id":"%.0f","borrower_iin":"%s","amount":"700000.00","currency":"KZT",' ..
		'"channel":"online","secured":false,"first_time_borrower":false,' ..
		'"approved_at":"%s","consent_at":"%s"}',
		id, iins[math.random(#iins)], ts, ts)
	return wrk.format("POST", path, headers, body)
end
