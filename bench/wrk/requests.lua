-- wrk script for bench/http_bench.py: requests read from a file, one path per line.
--
-- Environment (set by http_bench.py):
--   BENCH_PATHS          file of request paths (already URL-encoded), cycled through
--   BENCH_METHOD=POST    send each path's query string as a form body to its path
--                        (application/x-www-form-urlencoded) instead of a GET
--   BENCH_NONCE=1        append "\n#<run>-<thread>-<n>" (URL-encoded) to each path: every
--                        request is a SPARQL text never sent before, so no cache can serve it
--   BENCH_RUN            a token unique to this wrk run (for the nonce)
--   BENCH_THREADS        wrk -t value: thread i takes paths i, i+T, i+2T, ... (no two threads
--                        send the same path at the same time)
--   BENCH_ACCEPT         Accept header
--   BENCH_IF_NONE_MATCH  optional If-None-Match header (a revalidation: 304 expected)
--   BENCH_OUT            where done() writes the summary as JSON

local paths_file = os.getenv("BENCH_PATHS")
local nonce = os.getenv("BENCH_NONCE") == "1"
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local accept = os.getenv("BENCH_ACCEPT") or "application/sparql-results+json"
local if_none_match = os.getenv("BENCH_IF_NONE_MATCH")
local out_file = os.getenv("BENCH_OUT")
local post = os.getenv("BENCH_METHOD") == "POST"
local form = {}  -- a POST's headers: wrk.format takes its headers instead of wrk.headers

local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
end

local paths = {}
local counter = 0

function init(args)
  for line in io.lines(paths_file) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  wrk.headers["Accept"] = accept
  if if_none_match and #if_none_match > 0 then
    wrk.headers["If-None-Match"] = if_none_match
  end
  for name, value in pairs(wrk.headers) do form[name] = value end
  form["Content-Type"] = "application/x-www-form-urlencoded"
  counter = 0
end

function request()
  local me = id or 1
  local index = (counter * threads + (me - 1)) % #paths + 1
  counter = counter + 1
  local path = paths[index]
  if nonce then
    path = path .. "%0A%23" .. run .. "-" .. me .. "-" .. counter
  end
  if post then
    local endpoint, body = path:match("^([^?]*)%?(.*)$")
    return wrk.format("POST", endpoint, form, body)
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  local f = assert(io.open(out_file, "w"))
  f:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "mean_us": %.1f, "max_us": %d}',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
  f:close()
end
