-- common.lua - shared by the wrk scripts of bench/run.  Environment:
--   BENCH_TOKEN  bearer token;  BENCH_LIMIT  stop each thread after this
--   many responses (0: run for wrk's -d);  BENCH_THREADS  wrk's -t.
local nthreads = 0
function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
end

auth = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
threads = tonumber(os.getenv("BENCH_THREADS") or "1")

function read_lines(path)
   local t = {}
   for line in io.lines(path) do
      if line ~= "" then t[#t + 1] = line end
   end
   return t
end

-- Count responses and stop the thread at BENCH_LIMIT (used for the
-- resident-memory checkpoints).  Defining response() makes wrk parse every
-- response for Lua, so only the memory runs load it.
function counting_response()
   local n = 0
   return function(status, headers, body)
      n = n + 1
      if n >= limit then wrk.thread:stop() end
   end
end
