// A minimal LeanStorage user service for `clients/sign`: `GET /1.1/users/me` with
// `X-LC-Session: tok:<objectId>` answers that user; anything else is LeanStorage's 211.

import http from 'node:http';

export async function startUserService() {
  const server = http.createServer((req, res) => {
    const token = req.headers['x-lc-session'] || '';
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && req.url === '/1.1/users/me' && token.startsWith('tok:')) {
      const objectId = token.slice(4);
      res.end(JSON.stringify({
        objectId, username: objectId, sessionToken: token, emailVerified: false, mobilePhoneVerified: false,
        createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
      }));
    } else {
      res.statusCode = 400;
      res.end(JSON.stringify({ code: 211, error: 'Could not find user.' }));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, stop: () => server.close() };
}
