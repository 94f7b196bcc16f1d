-- wrk script: every request comes from a prepared file, one line each,
--   GET lines:  <path>
--   POST lines: <path><TAB><urlencoded body>
-- Each wrk thread takes its own share of the lines (line i goes to thread
-- i mod threads), so no line (no form nonce) is sent twice unless a thread
-- runs out of lines and starts over.  Usage:
--   wrk -t2 -c64 -d10s -s cycle.lua http://127.0.0.1:PORT -- LINES_FILE THREADS
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local file, threads = args[1], tonumber(args[2])
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  requests = {}
  local i = 0
  for line in io.lines(file) do
    if i % threads == id then
      local path, body = line:match("^([^\t]+)\t(.*)$")
      if path then
        requests[#requests + 1] = wrk.format("POST", path, headers, body)
      else
        requests[#requests + 1] = wrk.format("GET", line)
      end
    end
    i = i + 1
  end
  position = 0
  wrapped = 0
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
    wrapped = wrapped + 1
  end
  return requests[position]
end
