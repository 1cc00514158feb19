-- wrk -s bench/reads.lua: GET /v1/lenders/{lender}/loans/{id}, id drawn at
-- random from BENCH_READ_BASE+1 .. BENCH_READ_BASE+BENCH_READ_N (loans that
-- bench/run.sh created beforehand).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local base = tonumber(os.getenv("BENCH_READ_BASE") or "1000000")
local n = tonumber(os.getenv("BENCH_READ_N") or "2000")
local prefix, headers

function init(args)
	common.seed()
	prefix = "/v1/lenders/" .. common.lender .. "/loans/"
	headers = common.headers(false)
end

function request()
	return wrk.format("GET", string.format("%s%.0f", prefix, base + math.random(n)), headers)
end
