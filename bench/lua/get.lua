-- get.lua - GET /api/v1/episodes/{id}, rotating over the ids in BENCH_IDS.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local ids, i

function init(args)
   ids = read_lines(os.getenv("BENCH_IDS"))
   i = (tid or 0) * 7
   wrk.headers["Authorization"] = auth
end

function request()
   i = i % #ids + 1
   return wrk.format("GET", "/api/v1/episodes/" .. ids[i])
end

if limit > 0 then response = counting_response() end
