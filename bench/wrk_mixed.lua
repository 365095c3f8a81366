-- wrk script for soak_server.sh: what a page and its viewers ask for, mixed:
-- searches (typed prefixes and one query in ten never seen before), "more
-- like this", thumbnails at many sizes (cache hits and misses: each miss
-- decodes a picture), and whole images (files sent from disk, one in four
-- as a Range request). Item ids come from CEREBRO_SOAK_IDS (comma list);
-- with CEREBRO_SOAK_TOKEN every request carries it as a Bearer token.
--   CEREBRO_SOAK_IDS=1,2,3 wrk -t2 -c32 -d30m -s bench/wrk_mixed.lua http://127.0.0.1:PORT

local ids = {}
for id in string.gmatch(os.getenv("CEREBRO_SOAK_IDS") or "", "%d+") do ids[#ids + 1] = id end
assert(#ids > 0, "CEREBRO_SOAK_IDS names no item")
local token = os.getenv("CEREBRO_SOAK_TOKEN")
local words = { "a tiger", "an owl", "a green frog", "a flamingo", "a penguin", "a lion", "an elephant",
  "a giraffe", "a bird in the sky", "a cat on a sofa" }

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(ch) return string.format("%%%02X", string.byte(ch)) end))
end

local counter, threads = 0, {}

function setup(thread)
  thread:set("seed", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() + (seed or 0) * 7919)
  counter = math.random(1000)
  statuses = {}
  if token then wrk.headers["Authorization"] = "Bearer " .. token end
end

-- 55% search, 15% similar, 20% thumb, 10% image.
function request()
  counter = counter + 1
  local r, id = math.random(100), ids[math.random(#ids)]
  if r <= 55 then
    local q = words[math.random(#words)]
    if counter % 10 == 0 then q = "a photo of thing " .. math.random(1, 1e9) end
    q = q:sub(1, math.random(1, #q))
    return wrk.format("GET", "/api/search?k=24&q=" .. urlencode(q))
  elseif r <= 70 then
    return wrk.format("GET", "/api/similar/" .. id .. "?k=" .. math.random(1, 48))
  elseif r <= 90 then
    return wrk.format("GET", "/api/thumb/" .. id .. "?size=" .. (32 * math.random(1, 32)))
  end
  if math.random(4) == 1 then
    -- Headers given to wrk.format replace wrk.headers: the token goes too.
    return wrk.format("GET", "/api/image/" .. id,
      { Range = "bytes=" .. math.random(0, 999) .. "-", Authorization = wrk.headers["Authorization"] })
  end
  return wrk.format("GET", "/api/image/" .. id)
end

-- Statuses counted per thread, summed in done().
function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses") or {}) do total[status] = (total[status] or 0) + n end
  end
  local bad, parts = 0, {}
  for status, n in pairs(total) do
    parts[#parts + 1] = status .. ":" .. n
    if status ~= "200" and status ~= "206" then bad = bad + n end
  end
  table.sort(parts)
  local e = summary.errors
  io.write(string.format(
    "SOAK requests=%d duration_s=%.0f rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f statuses=%s " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d errors_status=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3, table.concat(parts, ","),
    e.connect, e.read, e.write, e.timeout, bad))
end
