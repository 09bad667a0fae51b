-- wrk script of bench/api_load.py: GET a list of prepared requests in turn (many users' tokens), and
-- print the run's figures as one JSON line.
--
--   wrk -t1 -c16 -d10s -s bench/wrk/rotate.lua http://127.0.0.1:PORT -- REQUESTS_FILE
--
-- REQUESTS_FILE is Lua that returns {{path, headers}, ...}, written by api_load.py. Every request is
-- formatted once in init(), so sending one costs wrk a table lookup.

load_threads = {}

function setup(thread)
  table.insert(load_threads, thread)
  thread:set("thread_index", #load_threads)
end

function init(args)
  local entries = dofile(args[1])
  prepared = {}
  for i, entry in ipairs(entries) do
    prepared[i] = wrk.format("GET", entry[1], entry[2])
  end
  -- Threads start at different places, so two threads do not send the same user's request in step.
  position = ((thread_index or 1) - 1) * 7919 % #prepared
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end

-- latency is in microseconds; errors.status counts answers that are not 2xx or 3xx.
function report(summary, latency, extra)
  local e = summary.errors
  local fields = {
    string.format('"requests": %d, "duration_us": %d, "bytes": %d', summary.requests, summary.duration, summary.bytes),
    string.format('"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
                  e.connect, e.read, e.write, e.status, e.timeout),
    string.format('"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f',
                  latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean),
  }
  for name, value in pairs(extra or {}) do
    table.insert(fields, string.format('"%s": %d', name, value))
  end
  io.write("API_LOAD_RESULT {" .. table.concat(fields, ", ") .. "}\n")
end

function done(summary, latency, requests)
  report(summary, latency)
end
