-- rotate.lua, and the answers counted by status (304 or anything else): for the If-None-Match run, where
-- a 200 is no error to wrk but means the server sent the whole feed again. Defining response() makes wrk
-- hand every answer's headers to Lua, so only this run pays for it.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "rotate.lua")

not_modified, other_status = 0, 0

function response(status, headers, body)
  if status == 304 then
    not_modified = not_modified + 1
  else
    other_status = other_status + 1
  end
end

function done(summary, latency, requests)
  local counts = {not_modified = 0, other_status = 0}
  for _, thread in ipairs(load_threads) do
    counts.not_modified = counts.not_modified + thread:get("not_modified")
    counts.other_status = counts.other_status + thread:get("other_status")
  end
  report(summary, latency, counts)
end
