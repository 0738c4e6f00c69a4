'use strict'
// The names Express (with cookie-parser, on cookie 0.7.2) and the `cookie` package (1.1.1) read
// in each request's Cookie header. Prints its port, and exits when its stdin closes.
const express = require('express')
const cookieParser = require('cookie-parser')
const cookie = require('cookie')

const app = express()
app.use(cookieParser())
app.get('/', (req, res) => {
  const header = req.headers.cookie
  res.json({
    express: Object.keys(req.cookies),
    cookie: header === undefined ? [] : Object.keys(cookie.parse(header))
  })
})
const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`))
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
