-- wrk script for the send benchmark (tests/bench/send_bench.py --wrk): every request carries
-- a new transaction ID, so every request persists one event. Environment: ROOM_PATHS (send
-- paths separated by spaces; thread i uses path i mod n) and TOKEN.
local paths = {}
for p in string.gmatch(os.getenv("ROOM_PATHS") or "", "%S+") do
  paths[#paths + 1] = p
end
local next_path = 0
setup = function(thread)
  next_path = next_path + 1
  thread:set("path", paths[(next_path - 1) % #paths + 1])
end

local token = os.getenv("TOKEN")
local counter = 0
-- each thread has its own Lua state: the address of a fresh table tells them apart
local prefix = string.gsub(tostring({}), "[^%w]", "")
request = function()
  counter = counter + 1
  return wrk.format("PUT", path .. prefix .. "_" .. counter,
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
    '{"msgtype":"m.text","body":"wrk"}')
end
response = function(status, headers, body)
  if status ~= 200 then
    io.write("status " .. status .. "\n")
  end
end
