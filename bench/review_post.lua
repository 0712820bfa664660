-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/bench_https.sh: POSTs one AdmissionReview, read from the file named by
-- the first script argument (`wrk ... -s bench/review_post.lua URL -- BODY_FILE`), on every
-- request of every keep-alive connection.
function init(args)
   local f = assert(io.open(assert(args[1], "usage: -- BODY_FILE"), "rb"))
   wrk.method = "POST"
   wrk.body = f:read("*a")
   f:close()
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json, */*"
end

-- wrk counts non-2xx answers itself ("Non-2xx or 3xx responses"); the script fails the run on it.
