-- POST /api/v1/cases/{id}/transitions: submits the draft cases the open-case run left
-- (ids from FIRST in the environment), each once: a move of a case, with its decision,
-- audit event, timers and webhook/e-mail effects, as an admin token (TOKEN).
local token = os.getenv("TOKEN")
local first = tonumber(os.getenv("FIRST") or "1")
local threads = {}
local n = 0
setup = function(thread)
  thread:set("tid", n)
  n = n + 1
  table.insert(threads, thread)
end
init = function(args)
  counter = 0
  step = 2
end
request = function()
  local id = first + tid + counter * step
  counter = counter + 1
  return wrk.format("POST", "/api/v1/cases/" .. id .. "/transitions",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
    '{"action": "submit"}')
end
