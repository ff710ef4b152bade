-- wrk script (run with -t1): cycle through prepared requests, one per line of
-- $BENCH_REQUESTS: path <TAB> cookie <TAB> body (urlencoded; empty for a GET).
-- $BENCH_METHOD is GET or POST. A submission's line is used once while lines last.
-- Every request carries $BENCH_USER_AGENT: a staff session is bound to the browser that
-- signed in (Flask-Login's strong protection), and the bench signs in with the same one.
-- A response whose status is not $BENCH_EXPECT prints a BENCH_UNEXPECTED line (load.py
-- counts them as errors): wrk itself counts only 4xx and 5xx, so a page answered by a
-- redirect to the sign-in page would otherwise be measured as if it were the page.
local lines = {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local path, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  lines[#lines + 1] = { path, cookie, body }
end
local method = os.getenv("BENCH_METHOD") or "GET"
local counter = tonumber(os.getenv("BENCH_OFFSET") or "0")
local user_agent = os.getenv("BENCH_USER_AGENT")
local expected = tonumber(os.getenv("BENCH_EXPECT") or "0")

function request()
  local row = lines[counter % #lines + 1]
  counter = counter + 1
  local headers = { ["User-Agent"] = user_agent }
  if row[2] ~= "" then headers["Cookie"] = row[2] end
  local body = nil
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = row[3]
  end
  return wrk.format(method, row[1], headers, body)
end

if expected > 0 then
  function response(status, headers, body)
    if status ~= expected then
      io.write("BENCH_UNEXPECTED " .. status .. " " .. (headers["Location"] or "") .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write,
    e.status, e.timeout))
end
