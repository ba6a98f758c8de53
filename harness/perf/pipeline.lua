-- wrk script: DEPTH requests in each write, as TechEmpower's plaintext test
-- sends them (`wrk -s pipeline.lua URL -- 16`). wrk counts each response, so
-- Requests/sec is responses per second. Without an argument, one request.
init = function(args)
    local r = {}
    local depth = tonumber(args[1]) or 1
    for i = 1, depth do
        r[i] = wrk.format()
    end
    req = table.concat(r)
end

request = function()
    return req
end
