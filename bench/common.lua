-- Shared by the wrk scripts of bench/run.sh. Settings come from the
-- environment, so that every wrk thread sees the same values:
--   BENCH_TOKEN     lender bearer token          BENCH_LENDER  lender id
--   BENCH_THREADS   wrk -t (for per-thread id ranges)
--   BENCH_DELAY_MS  when > 0, pacing: each connection waits this long
--                   (on average; fractions are dithered) before each request
local common = {}

common.token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
common.lender = os.getenv("BENCH_LENDER") or "BANK1"
common.nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "") or 0
if delay_ms > 0 then
	-- wrk's delay() takes whole milliseconds: dither the fraction so that
	-- the mean delay is delay_ms.
	function delay()
		local whole = math.floor(delay_ms)
		if math.random() < delay_ms - whole then
			return whole + 1
		end
		return whole
	end
end

-- thread ids 1..N (setup runs in wrk's main Lua state, once per thread)
local nsetup = 0
function setup(thread)
	nsetup = nsetup + 1
	thread:set("tid", nsetup)
end

function common.seed()
	math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
	-- LuaJIT's first draws after seeding are poorly spread
	for _ = 1, 10 do
		math.random()
	end
end

-- Valid IINs (check digit per lib/iin.c), n of them, born 1990-01-01 and on.
function common.iins(n)
	local w1 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	local w2 = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
	local function check(d)
		local s = 0
		for i = 1, 11 do s = s + d[i] * w1[i] end
		local c = s % 11
		if c ~= 10 then return c end
		s = 0
		for i = 1, 11 do s = s + d[i] * w2[i] end
		c = s % 11
		if c == 10 then return nil end
		return c
	end
	local out, day = {}, 1
	while #out < n do
		for serial = 0, 9999 do
			local s11 = string.format("9001%02d3%04d", day, serial)
			local d = {}
			for i = 1, 11 do d[i] = tonumber(s11:sub(i, i)) end
			local c = check(d)
			if c then out[#out + 1] = s11 .. c end
			if #out >= n then break end
		end
		day = day + 1
	end
	return out
end

function common.headers(with_body)
	local h = {["Authorization"] = "Bearer " .. common.token}
	if with_body then
		h["Content-Type"] = "application/json"
	end
	return h
end

return common
