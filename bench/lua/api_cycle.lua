-- wrk script of the operator API: every request comes from a prepared file, one line each,
--   GET lines:  <path>
--   POST lines: <path><TAB><JSON body>[<TAB><Idempotency-Key>]
-- with the API key in the Authorization header. Each wrk thread takes its own share of
-- the lines (line i goes to thread i mod threads), so no line is sent twice unless a
-- thread runs out of lines and starts over. Usage:
--   wrk -t2 -c64 -d10s -s api_cycle.lua http://127.0.0.1:PORT -- LINES_FILE THREADS KEY
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local file, threads, key = args[1], tonumber(args[2]), args[3]
  requests = {}
  local i = 0
  for line in io.lines(file) do
    if i % threads == id then
      local headers = { ["Authorization"] = "Bearer " .. key }
      local path, body, idem = line:match("^([^\t]+)\t([^\t]*)\t?(.*)$")
      if path then
        headers["Content-Type"] = "application/json"
        if idem ~= "" then headers["Idempotency-Key"] = idem end
        requests[#requests + 1] = wrk.format("POST", path, headers, body)
      else
        requests[#requests + 1] = wrk.format("GET", line, headers)
      end
    end
    i = i + 1
  end
  position = 0
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
  end
  return requests[position]
end
