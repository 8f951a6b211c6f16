-- wrk script for the send benchmark: every request a new transaction ID, so every request
-- persists one event. Set by send_bench.py: ROOM_PATH, TOKEN (environment).
local path = os.getenv("ROOM_PATH")
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
