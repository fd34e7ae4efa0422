-- patch.lua - PATCH /api/v1/episodes/{id} with If-Match set to the current
-- version.  BENCH_VERSIONS holds "id version" lines (read from the database
-- just before the run); each wrk thread owns every BENCH_THREADS-th of them
-- and rotates over its share, learning the new version from each 200's
-- ETag.  A 412 (a request overtaken by a later one on the same row, which
-- needs more requests in flight than rows in a thread's share) re-learns
-- the version from the problem's detail; wrk counts it as non-2xx.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local ids, ver, i, n = {}, {}, 0, 0

function init(args)
   local k = 0
   for _, line in ipairs(read_lines(os.getenv("BENCH_VERSIONS"))) do
      local id, v = line:match("^(%S+)%s+(%d+)$")
      if id then
         if k % threads == (tid or 0) then
            ids[#ids + 1] = id
            ver[id] = v
         end
         k = k + 1
      end
   end
end

function request()
   i = i % #ids + 1
   n = n + 1
   local id = ids[i]
   local body = '{"title":"Bench patch ' .. (tid or 0) .. '-' .. n .. '"}'
   return wrk.format("PATCH", "/api/v1/episodes/" .. id, {
      ["Authorization"] = auth,
      ["Content-Type"] = "application/json",
      ["If-Match"] = '"' .. ver[id] .. '"',
   }, body)
end

function response(status, headers, body)
   if status == 200 then
      local id = body:match('"id"%s*:%s*"([0-9a-f%-]+)"')
      local etag = headers["ETag"] or headers["Etag"] or headers["etag"]
      if id and etag and ver[id] then ver[id] = etag:gsub('"', '') end
   elseif status == 412 then
      local id, v = body:match("episode ([0-9a-f%-]+) is at version (%d+)")
      if id and ver[id] then ver[id] = v end
   end
end
