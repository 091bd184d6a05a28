import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeKeyPath, sha256Hex, signRequest } from '../../src/outputs/s3/sigv4.js';

// The examples of AWS's "Signature Calculations for the Authorization Header" (S3 API reference).
const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const now = Date.UTC(2013, 4, 24, 0, 0, 0);
const scope = 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request';

test('AWS example: GET Object with a Range header', () => {
  const signed = signRequest({
    method: 'GET',
    path: encodeKeyPath('/test.txt'),
    headers: { host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9' },
    payloadHash: sha256Hex(''),
    region: 'us-east-1',
    credentials,
    now,
  });
  assert.equal(
    signed.headers.authorization,
    `AWS4-HMAC-SHA256 Credential=${scope},SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,` +
      'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  );
});

test('AWS example: PUT Object', () => {
  const body = 'Welcome to Amazon S3.';
  assert.equal(sha256Hex(body), '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
  const signed = signRequest({
    method: 'PUT',
    path: encodeKeyPath('/test$file.text'),
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      date: 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    },
    payloadHash: sha256Hex(body),
    region: 'us-east-1',
    credentials,
    now,
  });
  assert.equal(
    signed.headers.authorization,
    `AWS4-HMAC-SHA256 Credential=${scope},` +
      'SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,' +
      'Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
  );
});

test('AWS example: GET Bucket Lifecycle (a subresource query)', () => {
  const signed = signRequest({
    method: 'GET',
    path: '/',
    query: [['lifecycle', '']],
    headers: { host: 'examplebucket.s3.amazonaws.com' },
    payloadHash: sha256Hex(''),
    region: 'us-east-1',
    credentials,
    now,
  });
  assert.equal(
    signed.headers.authorization,
    `AWS4-HMAC-SHA256 Credential=${scope},SignedHeaders=host;x-amz-content-sha256;x-amz-date,` +
      'Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
  );
});

test('AWS example: GET Bucket (list objects) with query parameters', () => {
  const signed = signRequest({
    method: 'GET',
    path: '/',
    query: [
      ['prefix', 'J'],
      ['max-keys', '2'],
    ],
    headers: { host: 'examplebucket.s3.amazonaws.com' },
    payloadHash: sha256Hex(''),
    region: 'us-east-1',
    credentials,
    now,
  });
  assert.equal(
    signed.headers.authorization,
    `AWS4-HMAC-SHA256 Credential=${scope},SignedHeaders=host;x-amz-content-sha256;x-amz-date,` +
      'Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
  );
});

// Computed with botocore's S3SigV4Auth (an independent signer) for the same request.
test('a path-style PUT with an encoded key and a session token signs as botocore does', () => {
  const signed = signRequest({
    method: 'PUT',
    path: `/my-bucket/${encodeKeyPath('renders/batch one/été+1.png')}`,
    headers: { host: '127.0.0.1:9000', 'content-type': 'image/png', 'content-length': '5' },
    payloadHash: sha256Hex('hello'),
    region: 'eu-west-1',
    credentials: {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      sessionToken: 'SESSIONTOKEN/abc=',
    },
    now: Date.UTC(2026, 11, 1, 7, 3, 18),
  });
  assert.equal(signed.headers['x-amz-security-token'], 'SESSIONTOKEN/abc=');
  assert.equal(
    signed.headers.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/eu-west-1/s3/aws4_request,' +
      'SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,' +
      'Signature=e10c38341953be84b22b4196c906bd0b448ba9e211c3fc6d0bc52a082f9c72ed',
  );
});
