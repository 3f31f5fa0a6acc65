-- POST /api/v1/cases: opens a warranty case on one of UNITS generated IMASK units
-- (BENCH-IMA-1 … BENCH-IMA-UNITS, each sold in an order of its own, BENCH-ORD-n), as an admin
-- token (TOKEN in the environment). Each thread walks the units from its own place, so cases
-- spread over the registry as a shop's do.
local token = os.getenv("TOKEN")
local units = tonumber(os.getenv("UNITS") or "20000")
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
init = function(args)
  counter = 0
end
request = function()
  counter = counter + 1
  local n = ((tid or 0) * 7919 + counter) % units + 1
  local body = string.format(
    '{"kind": "warranty_service", "serial": "BENCH-IMA-%d", "order_no": "BENCH-ORD-%d", "facts": {"problem.reported": "defect"}}',
    n, n)
  return wrk.format("POST", "/api/v1/cases",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
