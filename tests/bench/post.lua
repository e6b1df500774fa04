-- post.lua: wrk script for tests/bench/run-bench.py: POST a fixed body read from a file.
--
--   wrk -t2 -c4 -d10s -s post.lua URL -- BODY_FILE ["Name: value"]...
--
-- Every request is the same POST with the file's bytes as its body,
-- Content-Type application/json and the extra headers given (for example
-- "x-api-key: ...").  wrk runs init() in each thread before it formats the
-- request, so the body is read once per thread.

function init(args)
   local path = args[1]
   if path == nil then
      error("post.lua: usage: wrk ... -s post.lua URL -- BODY_FILE [\"Name: value\"]...")
   end
   local f = assert(io.open(path, "rb"))
   wrk.body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   for i = 2, #args do
      local name, value = args[i]:match("^([^:]+):%s*(.*)$")
      if name == nil then
         error("post.lua: not a header: " .. args[i])
      end
      wrk.headers[name] = value
   end
end
