-- The load generator's script (wrk, https://github.com/wg/wrk; bench/loadgen.py runs it).
--
-- Reads what to send from the folder in ESCP_WRK_DIR, written by bench/loadgen.py:
--   request-1, request-2, ...   request bodies, sent in turn (thread k starts at body k)
--   headers-1, headers-2, ...   header sets, "Name: value" per line; thread k uses set k mod n
--   expected-1, expected-2, ... the exact answers verify.py accepted from this target
-- Every response is checked: a status other than 200, or a body that is not one of the expected
-- answers, is counted (and the first such body kept in unexpected-sample). done() writes the
-- totals and latency percentiles to result.json in the same folder.
local dir = assert(os.getenv("ESCP_WRK_DIR"), "ESCP_WRK_DIR is not set")

local function files(prefix)
  local list = {}
  while true do
    local f = io.open(dir .. "/" .. prefix .. "-" .. (#list + 1), "rb")
    if not f then return list end
    list[#list + 1] = f:read("*a")
    f:close()
  end
end

local function parse_headers(text)
  local headers = {}
  for name, value in text:gmatch("([^:\r\n]+):%s*([^\r\n]*)") do headers[name] = value end
  return headers
end

local bodies, header_sets = files("request"), files("headers")
local known = {}
for _, body in ipairs(files("expected")) do known[body] = true end

-- main state: hand each thread its number, keep the threads to sum their counters in done()
local threads, next_id = {}, 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

-- each thread's own state
local requests, turn = {}, 0
function init(args)
  responses, non200, unexpected, with_errors = 0, 0, 0, 0
  local headers = parse_headers(header_sets[id % #header_sets + 1])
  for i, body in ipairs(bodies) do
    local own = {}
    for name, value in pairs(headers) do own[name] = value end
    requests[i] = wrk.format("POST", nil, own, body)
  end
  turn = id
end

function request()
  turn = turn + 1
  return requests[turn % #requests + 1]
end

function response(status, headers, body)
  responses = responses + 1
  if body:find('"errors"', 1, true) then with_errors = with_errors + 1 end
  if status ~= 200 then
    non200 = non200 + 1
  elseif not known[body] then
    unexpected = unexpected + 1
  else
    return
  end
  if not sample then sample = status .. "\n" .. body end
end

function done(summary, latency, _)
  local total = {responses = 0, non200 = 0, unexpected = 0, with_errors = 0}
  local sample
  for _, thread in ipairs(threads) do
    for name in pairs(total) do total[name] = total[name] + thread:get(name) end
    sample = sample or thread:get("sample")
  end
  if sample then
    local f = assert(io.open(dir .. "/unexpected-sample", "wb"))
    f:write(sample)
    f:close()
  end
  local e = summary.errors
  local f = assert(io.open(dir .. "/result.json", "w"))
  f:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "responses": %d, "non200": %d, ' ..
    '"unexpected": %d, "with_errors": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, total.responses, total.non200,
    total.unexpected, total.with_errors, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
  f:close()
end
