-- GET /api/v1/warranty/{serial} over the demo's generated units (IMA-10001 … IMA-10060 and the
-- other sellers' prefixes), a different one each request.
local prefixes = {"IMK", "IMA", "IMI", "CRK", "MX1"}
counter = 0
request = function()
  counter = counter + 1
  local p = prefixes[(counter % 5) + 1]
  local n = 10001 + (counter % 60)
  return wrk.format("GET", "/api/v1/warranty/" .. p .. "-" .. n)
end
