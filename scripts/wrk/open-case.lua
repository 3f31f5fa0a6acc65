-- POST /api/v1/cases: opens a warranty case on one of the demo's IMASK units, as an admin
-- token (TOKEN in the environment).
local token = os.getenv("TOKEN")
counter = 0
request = function()
  counter = counter + 1
  local n = (counter % 60) + 1
  local body = string.format(
    '{"kind": "warranty_service", "serial": "IMA-%d", "order_no": "DEMO-IMA-%d", "facts": {"problem.reported": "defect"}}',
    10000 + n, n)
  return wrk.format("POST", "/api/v1/cases",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
