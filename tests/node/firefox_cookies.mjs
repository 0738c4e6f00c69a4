// Stores Set-Cookie lines in real Firefox ESR and prints what it kept.
//
// One request per stdin line, {"urls": [...]}: a fresh browser context loads each URL in
// turn, then one stdout line gives the time it loaded the last URL and lists its cookies
// for it, each with `expires` in Unix seconds (-1 for a session cookie). Firefox is driven over WebDriver BiDi by
// puppeteer-core, offline, with Debian's firefox-esr (`make browser-deps` installs both).
import readline from 'node:readline';
import puppeteer from 'puppeteer-core';

const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
  headless: true,
});
const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { urls } = JSON.parse(line);
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    for (const url of urls) await page.goto(url);
    const loadedAt = Date.now() / 1000; // after the cookies were stored
    const cookies = await page.cookies(urls[urls.length - 1]);
    const kept = cookies.map(({ name, value, expires }) => ({ name, value, expires }));
    process.stdout.write(JSON.stringify({ loadedAt, cookies: kept }) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error) }) + '\n');
  } finally {
    await context.close();
  }
}
await browser.close();
