-- wrk script for bench_server.sh: /api/search with the queries a typist
-- sends while typing (every prefix of each phrase, as a search-as-you-type
-- page asks for them), some under a folder prefix, and one query in ten
-- never seen before (a cache miss that runs the text encoder).
--   wrk -t2 -c64 -d30s --latency -s bench/wrk_search.lua http://127.0.0.1:PORT

local phrases = {
  "a tiger in the grass", "a red apple", "a whale", "an owl at night", "a green frog",
  "a flamingo standing on one leg", "a penguin", "a lion", "a car on the road", "a smiling face",
  "a cup of coffee", "an elephant", "a bird in the sky", "a pizza", "a rocket",
}
local folders = { "birds", "smileys", "animals" }

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(ch) return string.format("%%%02X", string.byte(ch)) end))
end

local paths = {}
for _, phrase in ipairs(phrases) do
  for i = 1, #phrase do
    local typed = phrase:sub(1, i)
    if typed:sub(-1) ~= " " then -- a page trims and skips a trailing space
      paths[#paths + 1] = "/api/search?k=24&q=" .. urlencode(typed)
    end
  end
  paths[#paths + 1] = "/api/search?k=24&q=" .. urlencode(phrase) .. "&prefix=" ..
    folders[(#paths % #folders) + 1]
end

local counter = 0
local thread_seed = 0

function setup(thread)
  thread_seed = thread_seed + 1
  thread:set("seed", thread_seed)
end

function init(args)
  math.randomseed(os.time() + (seed or 0) * 7919)
  counter = math.random(#paths)
end

function request()
  counter = counter + 1
  if counter % 10 == 0 then
    return wrk.format("GET", "/api/search?k=24&q=" .. urlencode("a photo of thing " .. math.random(1, 1e9)))
  end
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

local non2xx = 0
function response(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_s=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, e.connect, e.read, e.write, e.status, e.timeout))
end
