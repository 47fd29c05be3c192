-- wrk script: POST a form with HTTP Basic client authentication.
-- Environment: BODY (form body), AUTH (base64 client_id:secret).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("AUTH")
