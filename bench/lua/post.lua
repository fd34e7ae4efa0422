-- post.lua - POST /api/v1/episodes with every field set.  season and
-- episode numbers are random (as in the pgbench script), under a series
-- named per run and thread so runs never collide on the unique triple.
-- BENCH_IDEM=1 sends a fresh Idempotency-Key with every request (what a
-- retry-safe client does), to measure what remembering the answer costs.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local tag, n, idem = nil, 0, os.getenv("BENCH_IDEM") == "1"
local fmt = '{"series":"%s","season_number":%d,"episode_number":%d,' ..
   '"title":"Bench episode %d","description":"Written by bench/run to measure creates.",' ..
   '"status":"draft","air_date":"2026-05-01","duration_seconds":1800,' ..
   '"categories":["news","bench"],"metadata":{"source":"bench"}}'

function init(args)
   tag = (os.getenv("BENCH_TAG") or "bench") .. "-" .. (tid or 0)
   math.randomseed(os.time() * 100 + (tid or 0))
   wrk.headers["Authorization"] = auth
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   n = n + 1
   local body = string.format(fmt, tag, math.random(1, 1000000),
      math.random(1, 2000000000), n)
   local headers = nil
   if idem then
      -- wrk.format takes this table instead of wrk.headers, not beside it.
      headers = { ["Idempotency-Key"] = tag .. "-" .. n }
      for k, v in pairs(wrk.headers) do headers[k] = v end
   end
   return wrk.format("POST", "/api/v1/episodes", headers, body)
end
