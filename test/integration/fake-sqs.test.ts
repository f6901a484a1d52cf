import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
  type Message,
  type SendMessageCommandInput,
  type SendMessageCommandOutput,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { md5OfMessageAttributes, startFakeSqs, type FakeSqs } from '../support/fake-sqs.ts';

/**
 * Self-tests of the SQS fake, driven only by the real `@aws-sdk/client-sqs`, so tests of the
 * relay can trust its wire format, its error shapes and its queue semantics.
 */

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

const clientFor = (endpoint: string, extra: Partial<ConstructorParameters<typeof SQSClient>[0]> = {}): SQSClient =>
  new SQSClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'AKIDUMMY', secretAccessKey: 'dummy' },
    maxAttempts: 1, // scripted failures must surface, not be retried away by the SDK
    ...extra,
  });

const ATTRIBUTE_NAMES = ['ApproximateReceiveCount', 'SentTimestamp', 'ApproximateFirstReceiveTimestamp'] as const;

describe('fake SQS (AWS JSON 1.0, real @aws-sdk/client-sqs)', () => {
  let fake: FakeSqs;
  let client: SQSClient;
  let counter = 0;
  /** A fresh queue per test, so tests share no messages. */
  const newQueue = (attributes?: Parameters<FakeSqs['createQueue']>[1]): string =>
    fake.createQueue(`relay-test-${++counter}`, attributes);

  const receive = async (queueUrl: string, extra: Partial<ConstructorParameters<typeof ReceiveMessageCommand>[0]> = {}): Promise<Message[]> => {
    const out = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageSystemAttributeNames: [...ATTRIBUTE_NAMES], ...extra }),
    );
    return out.Messages ?? [];
  };

  beforeAll(async () => {
    fake = await startFakeSqs();
    client = clientFor(fake.endpoint);
  });
  afterEach(() => {
    fake.calls.length = 0;
    expect(fake.pendingScripts()).toBe(0);
  });
  afterAll(async () => {
    client.destroy();
    await fake.close();
  });

  it('listens on loopback and builds queue URLs from the endpoint and account', () => {
    const url = fake.createQueue('shape-check');

    expect(fake.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).toBe(`${fake.endpoint}/000000000000/shape-check`);
    expect(fake.createQueue('shape-check')).toBe(url); // same attributes: idempotent, as SQS
    expect(() => fake.createQueue('shape-check', { visibilityTimeoutSeconds: 5 })).toThrow(/already exists/);
    expect(() => fake.createQueue('x', { maxReceiveCount: 3, deadLetterQueueName: 'missing' })).toThrow(/does not exist/);
  });

  it('records the JSON 1.0 request the SDK sends and answers with a verified MD5', async () => {
    // Arrange
    const queueUrl = newQueue();
    const body = 'héllo ✓ 🚀 {"userId":"u1"}';

    // Act
    const out = await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));

    // Assess
    expect(out.MessageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(out.MD5OfMessageBody).toBe(md5(body));
    expect(out.MD5OfMessageAttributes).toBeUndefined();
    expect(out.$metadata).toMatchObject({ httpStatusCode: 200, requestId: expect.any(String) });
    expect(fake.calls).toHaveLength(1);
    const [call] = fake.calls;
    expect(call?.operation).toBe('SendMessage');
    expect(call?.target).toBe('AmazonSQS.SendMessage');
    expect(call?.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(call?.headers['x-amzn-query-mode']).toBe('true');
    expect(call?.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDUMMY\/\d{8}\/us-east-1\/sqs\/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$/);
    expect(call?.body).toEqual({ QueueUrl: queueUrl, MessageBody: body });
    expect(call?.status).toBe(200);
    expect(fake.messages(queueUrl)).toMatchObject([{ messageId: out.MessageId, body, md5OfBody: md5(body), receiveCount: 0, state: 'visible' }]);
  });

  it('walks a message through receive, invisibility, redelivery and delete by the latest handle', async () => {
    // Arrange
    const queueUrl = newQueue({ visibilityTimeoutSeconds: 30 });
    const sent = await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"n":1}' }));
    const sentAt = fake.now();

    // Act + Assess: the first receive hides the message for the queue's 30 s
    const [first] = await receive(queueUrl);
    expect(first).toMatchObject({ MessageId: sent.MessageId, Body: '{"n":1}', MD5OfBody: md5('{"n":1}') });
    expect(first?.ReceiptHandle).toEqual(expect.any(String));
    expect(first?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(Number(first?.Attributes?.SentTimestamp)).toBeGreaterThanOrEqual(sentAt - 1_000);
    const firstReceivedAt = first?.Attributes?.ApproximateFirstReceiveTimestamp;
    expect(Number(firstReceivedAt)).toBeGreaterThanOrEqual(Number(first?.Attributes?.SentTimestamp));

    expect(await receive(queueUrl)).toEqual([]);
    const counts = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    expect(counts.Attributes).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1' });
    expect(fake.messages(queueUrl)).toMatchObject([{ state: 'in-flight', receiveCount: 1, receiptHandle: first?.ReceiptHandle }]);

    fake.advance(29_000);
    expect(await receive(queueUrl)).toEqual([]);

    // ...and past the timeout it comes back with a new handle and a receive count of 2
    fake.advance(1_001);
    expect(fake.messages(queueUrl)[0]?.state).toBe('visible');
    const [second] = await receive(queueUrl);
    expect(second?.MessageId).toBe(sent.MessageId);
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(second?.Attributes?.ApproximateFirstReceiveTimestamp).toBe(firstReceivedAt);
    expect(second?.ReceiptHandle).not.toBe(first?.ReceiptHandle);

    // The stale handle "succeeds" and deletes nothing; the current one deletes
    await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: first!.ReceiptHandle! }));
    expect(fake.messages(queueUrl)).toHaveLength(1);
    await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: second!.ReceiptHandle! }));
    expect(fake.messages(queueUrl)).toEqual([]);
    // Deleting an already deleted message succeeds too
    await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: second!.ReceiptHandle! }));

    fake.advance(60_000);
    expect(await receive(queueUrl)).toEqual([]);
    expect(fake.calls.map((call) => [call.operation, call.status])).toContainEqual(['DeleteMessage', 200]);
  });

  it('honours DelaySeconds, MaxNumberOfMessages and a VisibilityTimeout given on receive', async () => {
    const queueUrl = newQueue();
    for (let i = 0; i < 12; i += 1) fake.send(queueUrl, `m${i}`);
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'later', DelaySeconds: 60 }));

    const batch = await receive(queueUrl, { MaxNumberOfMessages: 10, VisibilityTimeout: 5 });
    expect(batch.map((m) => m.Body)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    const attributes = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }));
    expect(attributes.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '2',
      ApproximateNumberOfMessagesNotVisible: '10',
      ApproximateNumberOfMessagesDelayed: '1',
      VisibilityTimeout: '30',
      QueueArn: expect.stringMatching(/^arn:aws:sqs:us-east-1:000000000000:relay-test-\d+$/),
    });

    const later = (): string | undefined => fake.messages(queueUrl).find((m) => m.body === 'later')?.state;
    fake.advance(5_000);
    expect(await receive(queueUrl, { MaxNumberOfMessages: 10 })).toHaveLength(10);
    expect(later()).toBe('delayed');
    fake.advance(60_000);
    expect(later()).toBe('visible');
    const rest = [...(await receive(queueUrl, { MaxNumberOfMessages: 10 })), ...(await receive(queueUrl, { MaxNumberOfMessages: 10 }))];
    expect(rest.map((m) => m.Body)).toContain('later');
    expect(rest).toHaveLength(13);
  });

  it('sends a batch, failing only the invalid entry, and refuses malformed batches', async () => {
    // Arrange
    const queueUrl = newQueue();

    // Act
    const out = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'a', MessageBody: 'first' },
          { Id: 'b', MessageBody: 'bad \u0000 char' },
          { Id: 'c', MessageBody: 'ünïcode', DelaySeconds: 0 },
        ],
      }),
    );

    // Assess
    expect(out.Successful?.map((entry) => [entry.Id, entry.MD5OfMessageBody])).toEqual([
      ['a', md5('first')],
      ['c', md5('ünïcode')],
    ]);
    expect(out.Failed).toEqual([{ Id: 'b', SenderFault: true, Code: 'InvalidMessageContents', Message: expect.stringMatching(/Invalid binary character/) }]);
    expect((await receive(queueUrl, { MaxNumberOfMessages: 10 })).map((m) => m.Body)).toEqual(['first', 'ünïcode']);

    await expect(client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [] }))).rejects.toMatchObject({
      name: 'EmptyBatchRequest',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: 'x', MessageBody: '1' }, { Id: 'x', MessageBody: '2' }] })),
    ).rejects.toMatchObject({ name: 'BatchEntryIdsNotDistinct' });
    await expect(
      client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: String(i) })),
        }),
      ),
    ).rejects.toMatchObject({ name: 'TooManyEntriesInBatchRequest' });
    await expect(
      client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: 'no spaces', MessageBody: '1' }] })),
    ).rejects.toMatchObject({ name: 'InvalidBatchEntryId' });
  });

  it('changes visibility only for in-flight messages and with the current handle', async () => {
    // Arrange
    const queueUrl = newQueue({ visibilityTimeoutSeconds: 30 });
    fake.send(queueUrl, 'job');
    const [first] = await receive(queueUrl);

    // Act + Assess: 0 s releases the message at once
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: first!.ReceiptHandle!, VisibilityTimeout: 0 }));
    const [second] = await receive(queueUrl);
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');

    // The older handle is expired now
    await expect(
      client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: first!.ReceiptHandle!, VisibilityTimeout: 10 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(/receipt handle has expired/) });

    // Extending keeps it hidden past the queue's 30 s
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: second!.ReceiptHandle!, VisibilityTimeout: 120 }));
    fake.advance(119_000);
    expect(await receive(queueUrl)).toEqual([]);
    await expect(
      client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: second!.ReceiptHandle!, VisibilityTimeout: 43_200 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(/beyond the limit/) });
    await expect(
      client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: second!.ReceiptHandle!, VisibilityTimeout: 43_201 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(/between 0 and 43200/) });
    fake.advance(1_001);

    // Once the timeout has run out the message is no longer in flight
    await expect(
      client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: second!.ReceiptHandle!, VisibilityTimeout: 10 })),
    ).rejects.toMatchObject({ name: 'MessageNotInflight', $metadata: { httpStatusCode: 400 } });
    const [third] = await receive(queueUrl);
    expect(third?.Attributes?.ApproximateReceiveCount).toBe('3');
  });

  it('changes visibility and deletes in batches, failing entries one by one', async () => {
    const queueUrl = newQueue();
    fake.send(queueUrl, 'one');
    fake.send(queueUrl, 'two');
    const [one, two] = await receive(queueUrl, { MaxNumberOfMessages: 2 });

    const changed = await client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'one', ReceiptHandle: one!.ReceiptHandle!, VisibilityTimeout: 0 },
          { Id: 'bogus', ReceiptHandle: 'not-a-handle', VisibilityTimeout: 0 },
        ],
      }),
    );
    expect(changed.Successful).toEqual([{ Id: 'one' }]);
    expect(changed.Failed).toEqual([{ Id: 'bogus', SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: expect.any(String) }]);
    expect(fake.messages(queueUrl).map((m) => m.state)).toEqual(['visible', 'in-flight']);

    const deleted = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'two', ReceiptHandle: two!.ReceiptHandle! },
          { Id: 'bogus', ReceiptHandle: 'not-a-handle' },
        ],
      }),
    );
    expect(deleted.Successful).toEqual([{ Id: 'two' }]);
    expect(deleted.Failed?.map((entry) => entry.Code)).toEqual(['ReceiptHandleIsInvalid']);
    expect(fake.messages(queueUrl).map((m) => m.body)).toEqual(['one']);
    await expect(client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: 'not-a-handle' }))).rejects.toMatchObject({
      name: 'ReceiptHandleIsInvalid',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('moves a message received more than maxReceiveCount times to the dead-letter queue', async () => {
    // Arrange
    const dlqUrl = fake.createQueue(`relay-dlq-${++counter}`);
    const queueUrl = newQueue({ visibilityTimeoutSeconds: 10, maxReceiveCount: 2, deadLetterQueueName: dlqUrl.split('/').pop()! });
    const sent = await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison' }));

    // Act: two failed deliveries, then the third receive finds it moved
    expect((await receive(queueUrl))[0]?.Attributes?.ApproximateReceiveCount).toBe('1');
    fake.advance(10_000);
    expect((await receive(queueUrl))[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
    fake.advance(10_000);
    const third = await receive(queueUrl);

    // Assess
    expect(third).toEqual([]);
    expect(fake.messages(queueUrl)).toEqual([]);
    expect(fake.messages(dlqUrl)).toMatchObject([{ messageId: sent.MessageId, body: 'poison', receiveCount: 2, state: 'visible' }]);
    const [dead] = await receive(dlqUrl, { MessageSystemAttributeNames: ['All'] });
    expect(dead).toMatchObject({ MessageId: sent.MessageId, Body: 'poison', MD5OfBody: md5('poison') });
    expect(dead?.Attributes).toMatchObject({
      ApproximateReceiveCount: '3',
      DeadLetterQueueSourceArn: expect.stringMatching(/:relay-test-\d+$/),
      SenderId: 'AKIDUMMY',
    });
    const policy = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
    expect(JSON.parse(policy.Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: expect.stringMatching(/:relay-dlq-\d+$/),
      maxReceiveCount: 2,
    });
  });

  it('computes MD5OfMessageAttributes as SQS does and returns only the attributes asked for', async () => {
    // Arrange: the AWS documentation samples (also used by other SQS implementations' tests)
    const stringAttributes = {
      test_attribute_name_2: { DataType: 'String', StringValue: 'test_attribute_value_2' },
      test_attribute_name_1: { DataType: 'String', StringValue: 'test_attribute_value_1' },
    };
    expect(md5OfMessageAttributes(stringAttributes)).toBe('d53f3b558fe951154770f25cb63dbba9');
    expect(
      md5OfMessageAttributes({ test_attribute_name: { DataType: 'Binary', BinaryValue: Buffer.from('test_attribute_value').toString('base64') } }),
    ).toBe('23f6bd27ea87aab7dfeadcc9aebee495');
    const queueUrl = newQueue();

    // Act
    const sent = await client.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: 'with attributes',
        MessageAttributes: {
          ...stringAttributes,
          'trace.id': { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1, 2, 255]) },
          'trace.n': { DataType: 'Number.int', StringValue: '42' },
        },
      }),
    );
    const [subset] = await receive(queueUrl, { MessageAttributeNames: ['test_attribute_name_1', 'test_attribute_name_2'], VisibilityTimeout: 0 });
    const [all] = await receive(queueUrl, { MessageAttributeNames: ['All'], VisibilityTimeout: 0 });
    const [prefixed] = await receive(queueUrl, { MessageAttributeNames: ['trace.*'], VisibilityTimeout: 0 });
    const [none] = await receive(queueUrl, { VisibilityTimeout: 0 });

    // Assess
    expect(fake.calls[0]?.body).toMatchObject({ MessageAttributes: { 'trace.id': { DataType: 'Binary', BinaryValue: 'AAEC/w==' } } });
    expect(sent.MD5OfMessageAttributes).toBe(md5OfMessageAttributes(fake.messages(queueUrl)[0]!.messageAttributes));
    expect(subset?.MD5OfMessageAttributes).toBe('d53f3b558fe951154770f25cb63dbba9');
    expect(subset?.MessageAttributes).toEqual(stringAttributes);
    expect(all?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(all?.MessageAttributes?.['trace.id']?.BinaryValue).toEqual(new Uint8Array([0, 1, 2, 255]));
    expect(Object.keys(prefixed?.MessageAttributes ?? {}).sort()).toEqual(['trace.id', 'trace.n']);
    expect(none?.MessageAttributes).toBeUndefined();
    expect(none?.MD5OfMessageAttributes).toBeUndefined();
  });

  it('proves the SDK verifies body MD5s: a scripted wrong digest makes every send and receive throw', async () => {
    const queueUrl = newQueue();
    fake.send(queueUrl, 'genuine');
    const wrong = '00000000000000000000000000000000';
    fake.script(
      { operation: 'SendMessage', status: 200, body: { MessageId: 'm-1', MD5OfMessageBody: wrong } },
      { operation: 'SendMessageBatch', status: 200, body: { Successful: [{ Id: 'a', MessageId: 'm-2', MD5OfMessageBody: wrong }], Failed: [] } },
      {
        operation: 'ReceiveMessage',
        status: 200,
        body: { Messages: [{ MessageId: 'm-3', ReceiptHandle: 'h', MD5OfBody: wrong, Body: 'tampered' }] },
      },
    );

    await expect(client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' }))).rejects.toThrow('InvalidChecksumError');
    await expect(
      client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: 'a', MessageBody: 'x' }] })),
    ).rejects.toThrow('Invalid MD5 checksum on messages: m-2');
    await expect(receive(queueUrl)).rejects.toThrow('Invalid MD5 checksum on messages: m-3');
    // The fake's own answers pass the same checks
    expect((await receive(queueUrl))[0]?.Body).toBe('genuine');
  });

  it('turns unknown queues into the typed QueueDoesNotExist, with the query-compatible code', async () => {
    const missing = `${fake.endpoint}/000000000000/nope`;

    const error: unknown = await client.send(new SendMessageCommand({ QueueUrl: missing, MessageBody: 'x' })).catch((e: unknown) => e);
    await expect(client.send(new GetQueueUrlCommand({ QueueName: 'nope' }))).rejects.toBeInstanceOf(QueueDoesNotExist);
    await expect(
      client.send(new ReceiveMessageCommand({ QueueUrl: `${fake.endpoint}/999999999999/${fake.queueUrl('shape-check').split('/').pop()!}` })),
    ).rejects.toMatchObject({ name: 'QueueDoesNotExist' });

    expect(error).toBeInstanceOf(QueueDoesNotExist);
    expect(error).toMatchObject({
      name: 'QueueDoesNotExist',
      message: 'The specified queue does not exist.',
      Code: 'AWS.SimpleQueueService.NonExistentQueue',
      Type: 'Sender',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    const call = fake.calls[0];
    expect(call?.status).toBe(400);
    expect(call?.operation).toBe('SendMessage');
  });

  it('answers GetQueueUrl, validates parameters and refuses operations it does not serve', async () => {
    const queueUrl = newQueue();

    expect((await client.send(new GetQueueUrlCommand({ QueueName: queueUrl.split('/').pop()! }))).QueueUrl).toBe(queueUrl);
    await expect(receive(queueUrl, { MaxNumberOfMessages: 11 })).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      Code: 'InvalidParameterValue',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(receive(queueUrl, { WaitTimeSeconds: 21 })).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '' }))).rejects.toMatchObject({ name: 'MissingParameter' });
    await expect(client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x', DelaySeconds: 901 }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
    await expect(client.send(new CreateQueueCommand({ QueueName: 'new' }))).rejects.toMatchObject({
      name: 'UnsupportedOperation',
      $metadata: { httpStatusCode: 400 },
    });
    expect(fake.calls.at(-1)?.target).toBe('AmazonSQS.CreateQueue');
  });

  it('refuses unsigned requests, a wrong content type and an unknown target', async () => {
    const queueUrl = newQueue();
    const body = JSON.stringify({ QueueUrl: queueUrl, MessageBody: 'x' });
    const signed = {
      authorization: `AWS4-HMAC-SHA256 Credential=AKIDUMMY/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`,
      'x-amz-date': '20260101T000000Z',
    };
    const post = (headers: Record<string, string>) => fetch(fake.endpoint, { method: 'POST', headers, body });

    const unsigned = await post({ 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' });
    const wrongType = await post({ ...signed, 'content-type': 'application/json', 'x-amz-target': 'AmazonSQS.SendMessage' });
    const wrongService = await post({
      ...signed,
      authorization: signed.authorization.replace('/sqs/', '/sns/'),
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'AmazonSQS.SendMessage',
    });
    const noTarget = await post({ ...signed, 'content-type': 'application/x-amz-json-1.0' });
    const fine = await post({ ...signed, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' });

    expect(unsigned.status).toBe(400);
    expect(unsigned.headers.get('x-amzn-query-error')).toBe('MissingAuthenticationToken;Sender');
    expect(await unsigned.json()).toMatchObject({ __type: expect.stringMatching(/#MissingAuthenticationTokenException$/) });
    expect(wrongType.status).toBe(400);
    expect(await wrongType.json()).toMatchObject({ __type: expect.stringMatching(/#SerializationException$/) });
    expect(wrongService.status).toBe(400);
    expect(await wrongService.json()).toMatchObject({ __type: expect.stringMatching(/#IncompleteSignatureException$/) });
    expect(noTarget.status).toBe(400);
    expect(await noTarget.json()).toMatchObject({ __type: expect.stringMatching(/#UnknownOperationException$/) });
    expect(fine.status).toBe(200);
    expect(fine.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(fake.messages(queueUrl)).toHaveLength(1); // only the well-formed call stored a message
  });

  it('long-polls briefly: answers as soon as a message arrives, and gives up after at most 1 s', async () => {
    const queueUrl = newQueue();

    let started = Date.now();
    const empty = await receive(queueUrl, { WaitTimeSeconds: 20 });
    const emptyMs = Date.now() - started;

    started = Date.now();
    const pending = receive(queueUrl, { WaitTimeSeconds: 20 });
    await expect.poll(() => fake.calls.length).toBe(2);
    fake.send(queueUrl, 'arrived');
    const arrived = await pending;
    const arrivedMs = Date.now() - started;

    expect(empty).toEqual([]);
    expect(emptyMs).toBeGreaterThanOrEqual(900);
    expect(emptyMs).toBeLessThan(2_000);
    expect(arrived.map((m) => m.Body)).toEqual(['arrived']);
    expect(arrivedMs).toBeLessThan(900);
  });

  it('plays scripted 500s per operation, then answers normally', async () => {
    const queueUrl = newQueue();
    fake.script({ operation: 'ReceiveMessage', status: 500 }, { status: 503, times: 2 });

    await expect(client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'a' }))).rejects.toMatchObject({
      name: 'ServiceUnavailable',
      $fault: 'server',
      $metadata: { httpStatusCode: 503 },
    });
    await expect(receive(queueUrl)).rejects.toMatchObject({ name: 'InternalFailure', $metadata: { httpStatusCode: 500 } });
    await expect(client.send(new GetQueueUrlCommand({ QueueName: 'anything' }))).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'b' }));

    expect(fake.calls.map((call) => [call.operation, call.status])).toEqual([
      ['SendMessage', 503],
      ['ReceiveMessage', 500],
      ['GetQueueUrl', 503],
      ['SendMessage', 200],
    ]);
    expect(fake.messages(queueUrl).map((m) => m.body)).toEqual(['b']); // a scripted answer runs nothing
  });

  it('lets the SDK fail on a reset connection and on a reply slower than its timeout', async () => {
    const queueUrl = newQueue();
    // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes
    const impatient = clientFor(fake.endpoint, { requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true } });
    fake.script({ operation: 'SendMessage', reset: true }, { operation: 'SendMessage', delayMs: 1_000 });

    await expect(client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'reset' }))).rejects.toThrow();
    await expect(impatient.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'slow' }))).rejects.toThrow(/timeout/i);

    expect(fake.calls.map((call) => call.status)).toEqual([undefined, undefined]);
    // The slow call was processed, only its answer was late: the message is there (a duplicate risk)
    expect(fake.messages(queueUrl).map((m) => m.body)).toEqual(['slow']);
    impatient.destroy();
  });

  it('ends a hanging call and a waiting long poll on close, so nothing waits forever', async () => {
    const own = await startFakeSqs({ accountId: '111122223333' });
    const ownClient = clientFor(own.endpoint);
    const queueUrl = own.createQueue('hang');
    expect(queueUrl).toBe(`${own.endpoint}/111122223333/hang`);
    own.script({ operation: 'SendMessage', hang: true });

    // Settled at once: the calls fail while close() runs, before anyone awaits them, and an
    // unobserved rejection would be reported as an unhandled error.
    const outcome = (call: Promise<unknown>) => call.then(() => 'answered', (error: unknown) => error);
    const hanging = outcome(ownClient.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' })));
    const polling = outcome(ownClient.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 20 })));
    await expect.poll(() => own.calls.length).toBe(2);
    const started = Date.now();
    await own.close();

    expect(await hanging).toBeInstanceOf(Error);
    expect(await polling).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(500);
    expect(own.messages(queueUrl)).toEqual([]);
    ownClient.destroy();
  });

  describe('FIFO queues', () => {
    const FIFO_ATTRIBUTE_NAMES = ['MessageGroupId', 'MessageDeduplicationId', 'SequenceNumber', 'ApproximateReceiveCount', 'SentTimestamp'] as const;

    const newFifoQueue = (attributes?: Parameters<FakeSqs['createQueue']>[1]): string =>
      fake.createQueue(`relay-fifo-${++counter}.fifo`, attributes);

    /** A FIFO send whose deduplication id is its body, unless `extra` says otherwise. */
    const sendFifo = (queueUrl: string, body: string, group: string, extra: Partial<SendMessageCommandInput> = {}) =>
      client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: body, ...extra }));

    const receiveFifo = (queueUrl: string, extra: Partial<ConstructorParameters<typeof ReceiveMessageCommand>[0]> = {}): Promise<Message[]> =>
      receive(queueUrl, { MessageSystemAttributeNames: [...FIFO_ATTRIBUTE_NAMES], ...extra });

    const deleteAll = async (queueUrl: string, messages: Message[]): Promise<void> => {
      for (const message of messages) {
        await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
      }
    };

    const bodies = (messages: Message[]): (string | undefined)[] => messages.map((message) => message.Body);

    /** SequenceNumbers exceed a JS number: compare them as BigInt. */
    const increasing = (sequence: (string | undefined)[]): boolean =>
      sequence.every((value, i) => /^\d{20,}$/.test(value ?? '') && (i === 0 || BigInt(value!) > BigInt(sequence[i - 1]!)));

    it('creates a FIFO queue from a .fifo name, reports its attributes and refuses mixed types', async () => {
      // Arrange
      const plain = newFifoQueue();
      const hashed = newFifoQueue({ fifoQueue: true, contentBasedDeduplication: true });
      const standardDlq = fake.createQueue(`relay-dlq-${++counter}`).split('/').pop()!;
      const fifoDlq = fake.createQueue(`relay-dlq-${++counter}.fifo`).split('/').pop()!;
      const attributesOf = async (queueUrl: string) =>
        (await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }))).Attributes;

      // Act + Assess
      expect(plain).toMatch(/\/000000000000\/relay-fifo-\d+\.fifo$/);
      expect(await attributesOf(plain)).toMatchObject({
        FifoQueue: 'true',
        ContentBasedDeduplication: 'false',
        DeduplicationScope: 'queue',
        FifoThroughputLimit: 'perQueue',
        QueueArn: expect.stringMatching(/:relay-fifo-\d+\.fifo$/),
      });
      expect(await attributesOf(hashed)).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true' });
      expect(await attributesOf(newQueue())).not.toHaveProperty('FifoQueue');
      expect(fake.createQueue(plain.split('/').pop()!)).toBe(plain);
      expect(() => fake.createQueue(plain.split('/').pop()!, { contentBasedDeduplication: true })).toThrow(/already exists/);
      expect(() => fake.createQueue('standard-name', { fifoQueue: true })).toThrow(/must end in \.fifo/);
      expect(() => fake.createQueue('named.fifo', { fifoQueue: false })).toThrow(/makes a FIFO queue/);
      expect(() => fake.createQueue('standard-name', { contentBasedDeduplication: true })).toThrow(/FIFO queues only/);
      expect(() => fake.createQueue('with.dot')).toThrow(/invalid queue name/);
      expect(() => fake.createQueue(`${'a'.repeat(76)}.fifo`)).toThrow(/invalid queue name/); // 81 characters
      expect(() => newFifoQueue({ maxReceiveCount: 1, deadLetterQueueName: standardDlq })).toThrow(/must be one too/);
      expect(() => newQueue({ maxReceiveCount: 1, deadLetterQueueName: fifoDlq })).toThrow(/must be one too/);
    });

    it('hands out a group in send order across receives, with SequenceNumber and the FIFO attributes', async () => {
      // Arrange
      const queueUrl = newFifoQueue();
      const names = ['g1-a', 'g1-b', 'g1-c'];
      const sent: SendMessageCommandOutput[] = [];
      for (const body of names) sent.push(await sendFifo(queueUrl, body, 'g1'));

      // Act: receive and delete, one message at a time
      const received: Message[] = [];
      for (let i = 0; i < names.length; i += 1) {
        const batch = await receiveFifo(queueUrl, { MaxNumberOfMessages: 1 });
        received.push(...batch);
        await deleteAll(queueUrl, batch);
      }

      // Assess
      expect(increasing(sent.map((out) => out.SequenceNumber))).toBe(true);
      expect(bodies(received)).toEqual(names);
      expect(received.map((message) => message.Attributes)).toEqual(
        names.map((body, i) => ({
          MessageGroupId: 'g1',
          MessageDeduplicationId: body,
          SequenceNumber: sent[i]?.SequenceNumber,
          ApproximateReceiveCount: '1',
          SentTimestamp: expect.stringMatching(/^\d+$/),
        })),
      );
      expect(await receiveFifo(queueUrl)).toEqual([]);
      expect(fake.messages(queueUrl)).toEqual([]);

      await sendFifo(queueUrl, 'g1-d', 'g1');
      const [all] = await receive(queueUrl, { MessageSystemAttributeNames: ['All'] });
      expect(all?.Attributes).toMatchObject({ MessageGroupId: 'g1', MessageDeduplicationId: 'g1-d', SequenceNumber: expect.stringMatching(/^\d{20,}$/) });
      expect(fake.messages(queueUrl)).toMatchObject([
        { body: 'g1-d', messageGroupId: 'g1', messageDeduplicationId: 'g1-d', sequenceNumber: all?.Attributes?.SequenceNumber, state: 'in-flight' },
      ]);
    });

    it('blocks a group while its head is in flight and releases it on visibility expiry or delete', async () => {
      // Arrange
      const queueUrl = newFifoQueue({ visibilityTimeoutSeconds: 30 });
      await sendFifo(queueUrl, 'a1', 'A');
      await sendFifo(queueUrl, 'a2', 'A');

      // Act + Assess: a2 is visible, but its group is blocked by a1 in flight
      expect(bodies(await receiveFifo(queueUrl))).toEqual(['a1']);
      expect(await receiveFifo(queueUrl, { MaxNumberOfMessages: 10 })).toEqual([]);
      expect(fake.messages(queueUrl).map((message) => message.state)).toEqual(['in-flight', 'visible']);
      fake.advance(29_000);
      expect(await receiveFifo(queueUrl)).toEqual([]);

      // Expiry releases the group, and the head is redelivered before a2
      fake.advance(1_001);
      const [again] = await receiveFifo(queueUrl);
      expect(again).toMatchObject({ Body: 'a1', Attributes: { ApproximateReceiveCount: '2' } });
      await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: again!.ReceiptHandle!, VisibilityTimeout: 0 }));
      const [third] = await receiveFifo(queueUrl);
      expect(third).toMatchObject({ Body: 'a1', Attributes: { ApproximateReceiveCount: '3' } });
      expect(await receiveFifo(queueUrl)).toEqual([]);

      // Deleting the head lets the next message of the group out
      await deleteAll(queueUrl, [third!]);
      expect(bodies(await receiveFifo(queueUrl, { MaxNumberOfMessages: 10 }))).toEqual(['a2']);
    });

    it('interleaves groups: a blocked group holds back only itself', async () => {
      // Arrange
      const queueUrl = newFifoQueue();
      const batchUrl = newFifoQueue();
      for (const url of [queueUrl, batchUrl]) {
        for (const [body, group] of [['a1', 'A'], ['b1', 'B'], ['a2', 'A'], ['b2', 'B'], ['a3', 'A']] as const) await sendFifo(url, body, group);
      }

      // Act + Assess: one message per receive alternates between the groups
      const [a1] = await receiveFifo(queueUrl);
      const [b1] = await receiveFifo(queueUrl);
      expect(bodies([a1!, b1!])).toEqual(['a1', 'b1']);
      expect(await receiveFifo(queueUrl)).toEqual([]);
      await deleteAll(queueUrl, [b1!]);
      expect(bodies(await receiveFifo(queueUrl, { MaxNumberOfMessages: 10 }))).toEqual(['b2']);
      await deleteAll(queueUrl, [a1!]);
      expect(bodies(await receiveFifo(queueUrl, { MaxNumberOfMessages: 10 }))).toEqual(['a2', 'a3']);

      // A receive of several takes as many of one group as it can, the oldest head's group first
      expect(bodies(await receiveFifo(batchUrl, { MaxNumberOfMessages: 2 }))).toEqual(['a1', 'a2']);
      expect(bodies(await receiveFifo(batchUrl, { MaxNumberOfMessages: 10 }))).toEqual(['b1', 'b2']);
      expect(await receiveFifo(batchUrl, { MaxNumberOfMessages: 10 })).toEqual([]); // a3 waits for a1 and a2
    });

    it('deduplicates a MessageDeduplicationId for 5 minutes from its first send, then stores it again', async () => {
      // Arrange
      const queueUrl = newFifoQueue();
      const first = await sendFifo(queueUrl, 'order-1', 'A', { MessageDeduplicationId: 'dedup-1' });

      // Act + Assess: a retry is accepted as the first message and stores nothing
      const retry = await sendFifo(queueUrl, 'order-1 (retry)', 'A', { MessageDeduplicationId: 'dedup-1' });
      expect(retry).toMatchObject({ MessageId: first.MessageId, SequenceNumber: first.SequenceNumber, MD5OfMessageBody: md5('order-1 (retry)') });
      expect(fake.messages(queueUrl).map((message) => message.body)).toEqual(['order-1']);

      // Deleting the message does not end the interval, nor does another group escape it (queue scope)
      await deleteAll(queueUrl, await receiveFifo(queueUrl));
      fake.advance(5 * 60_000 - 1_000);
      expect((await sendFifo(queueUrl, 'order-1', 'B', { MessageDeduplicationId: 'dedup-1' })).MessageId).toBe(first.MessageId);
      expect(fake.send(queueUrl, 'seeded', { messageGroupId: 'A', messageDeduplicationId: 'dedup-1' })).toBe(first.MessageId);
      expect(fake.messages(queueUrl)).toEqual([]);

      // Once the 5 minutes have passed the id is new again
      fake.advance(1_000);
      const later = await sendFifo(queueUrl, 'order-1 again', 'A', { MessageDeduplicationId: 'dedup-1' });
      expect(later.MessageId).not.toBe(first.MessageId);
      expect(increasing([first.SequenceNumber, later.SequenceNumber])).toBe(true);
      expect(fake.messages(queueUrl)).toMatchObject([{ messageId: later.MessageId, body: 'order-1 again', messageDeduplicationId: 'dedup-1' }]);
    });

    it('deduplicates by the SHA-256 of the body with ContentBasedDeduplication, unless an id is given', async () => {
      // Arrange
      const queueUrl = newFifoQueue({ contentBasedDeduplication: true });
      const send = (body: string, extra: Partial<SendMessageCommandInput> = {}) =>
        client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: 'A', ...extra }));

      // Act
      const first = await send('{"n":1}');
      const same = await send('{"n":1}', { MessageGroupId: 'B' });
      const other = await send('{"n":2}');
      const explicit = await send('{"n":1}', { MessageDeduplicationId: 'own-id' });
      const [received] = await receiveFifo(queueUrl);

      // Assess
      expect(same.MessageId).toBe(first.MessageId);
      expect(new Set([first.MessageId, other.MessageId, explicit.MessageId]).size).toBe(3);
      expect(fake.messages(queueUrl)).toMatchObject([
        { body: '{"n":1}', messageDeduplicationId: sha256('{"n":1}') },
        { body: '{"n":2}', messageDeduplicationId: sha256('{"n":2}') },
        { body: '{"n":1}', messageDeduplicationId: 'own-id' },
      ]);
      expect(received?.Attributes?.MessageDeduplicationId).toBe(sha256('{"n":1}'));
      await expect(client.send(new SendMessageCommand({ QueueUrl: newFifoQueue(), MessageBody: 'x', MessageGroupId: 'A' }))).rejects.toMatchObject({
        name: 'InvalidParameterValue',
        message: 'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      });
    });

    it('refuses a send without MessageGroupId with the exception SQS throws, and other FIFO-invalid sends', async () => {
      // Arrange
      const queueUrl = newFifoQueue({ contentBasedDeduplication: true });
      const send = (extra: Partial<SendMessageCommandInput>) => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x', ...extra }));

      // Act
      const missing: unknown = await send({}).catch((e: unknown) => e);
      const batch = await client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [
            { Id: 'grouped', MessageBody: 'kept', MessageGroupId: 'tenant#42:orders/eu' },
            { Id: 'ungrouped', MessageBody: 'lost' },
          ],
        }),
      );

      // Assess: MissingParameter is not modelled by the client, so it is the service's base
      // exception named from the x-amzn-query-error code
      expect(missing).toBeInstanceOf(SQSServiceException);
      expect(missing).toMatchObject({
        name: 'MissingParameter',
        Code: 'MissingParameter',
        Type: 'Sender',
        $fault: 'client',
        message: 'The request must contain the parameter MessageGroupId.',
        $metadata: { httpStatusCode: 400 },
      });
      expect(batch.Successful?.map((entry) => [entry.Id, entry.SequenceNumber])).toEqual([['grouped', expect.stringMatching(/^\d{20,}$/)]]);
      expect(batch.Failed).toEqual([{ Id: 'ungrouped', SenderFault: true, Code: 'MissingParameter', Message: expect.stringMatching(/MessageGroupId/) }]);
      const invalid = (pattern: RegExp) => ({ name: 'InvalidParameterValue', Code: 'InvalidParameterValue', message: expect.stringMatching(pattern) });
      await expect(send({ MessageGroupId: 'has space' })).rejects.toMatchObject(invalid(/MessageGroupId can only include alphanumeric and punctuation/));
      await expect(send({ MessageGroupId: 'g'.repeat(129) })).rejects.toMatchObject(invalid(/1 to 128 in length/));
      await expect(send({ MessageGroupId: 'A', MessageDeduplicationId: 'naïve' })).rejects.toMatchObject(invalid(/MessageDeduplicationId can only include/));
      await expect(send({ MessageGroupId: 'A', DelaySeconds: 5 })).rejects.toMatchObject(invalid(/DelaySeconds is invalid.*not valid for this queue type/));
      await send({ MessageGroupId: 'A', DelaySeconds: 0, MessageDeduplicationId: 'zero-delay' }); // an explicit 0 is allowed
      expect(() => fake.send(queueUrl, 'seed')).toThrow(/MissingParameter/);
      expect(fake.messages(queueUrl).map((message) => message.body)).toEqual(['kept', 'x']);
    });

    it('keeps the order of a SendMessageBatch within each group', async () => {
      // Arrange
      const queueUrl = newFifoQueue();
      const entries = Array.from({ length: 10 }, (_, i) => {
        const group = i % 3 === 0 ? 'A' : 'B';
        return { Id: `e${i}`, MessageBody: `${group}${i}`, MessageGroupId: group, MessageDeduplicationId: `d${i}` };
      });

      // Act
      const out = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      const received: Message[] = [];
      for (let batch = await receiveFifo(queueUrl, { MaxNumberOfMessages: 3 }); batch.length > 0; batch = await receiveFifo(queueUrl, { MaxNumberOfMessages: 3 })) {
        received.push(...batch);
        await deleteAll(queueUrl, batch);
      }

      // Assess
      expect(out.Failed ?? []).toEqual([]);
      expect(out.Successful?.map((entry) => [entry.Id, entry.MD5OfMessageBody])).toEqual(entries.map((entry) => [entry.Id, md5(entry.MessageBody)]));
      expect(increasing(out.Successful?.map((entry) => entry.SequenceNumber) ?? [])).toBe(true);
      const inGroup = (group: string) => received.filter((message) => message.Attributes?.MessageGroupId === group);
      expect(bodies(inGroup('A'))).toEqual(['A0', 'A3', 'A6', 'A9']);
      expect(bodies(inGroup('B'))).toEqual(['B1', 'B2', 'B4', 'B5', 'B7', 'B8']);
      expect(increasing(inGroup('B').map((message) => message.Attributes?.SequenceNumber))).toBe(true);
    });

    it('moves an over-received head to a FIFO dead-letter queue, keeping its group, and frees the group', async () => {
      // Arrange
      const dlqName = `relay-dlq-${++counter}.fifo`;
      const dlqUrl = fake.createQueue(dlqName);
      const queueUrl = newFifoQueue({ visibilityTimeoutSeconds: 10, maxReceiveCount: 1, deadLetterQueueName: dlqName });
      const poison = await sendFifo(queueUrl, 'poison', 'A');
      await sendFifo(queueUrl, 'next', 'A');

      // Act: the second receive moves the head instead of delivering it, then delivers the next one
      expect(bodies(await receiveFifo(queueUrl))).toEqual(['poison']);
      fake.advance(10_000);
      const second = await receiveFifo(queueUrl);

      // Assess
      expect(bodies(second)).toEqual(['next']);
      expect(fake.messages(dlqUrl)).toMatchObject([
        { messageId: poison.MessageId, messageGroupId: 'A', messageDeduplicationId: 'poison', sequenceNumber: poison.SequenceNumber, receiveCount: 1, state: 'visible' },
      ]);
      const [dead] = await receive(dlqUrl, { MessageSystemAttributeNames: ['All'] });
      expect(dead?.Attributes).toMatchObject({
        MessageGroupId: 'A',
        MessageDeduplicationId: 'poison',
        SequenceNumber: poison.SequenceNumber,
        ApproximateReceiveCount: '2',
        DeadLetterQueueSourceArn: expect.stringMatching(/:relay-fifo-\d+\.fifo$/),
      });
    });
  });
});

describe('fake SQS selected through AWS_ENDPOINT_URL_SQS', () => {
  const names = ['AWS_ENDPOINT_URL_SQS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'] as const;
  let saved: Partial<Record<(typeof names)[number], string>>;
  let fake: FakeSqs;

  beforeAll(async () => {
    fake = await startFakeSqs();
    saved = {};
    for (const name of names) {
      if (process.env[name] !== undefined) saved[name] = process.env[name];
      delete process.env[name];
    }
    process.env['AWS_ENDPOINT_URL_SQS'] = fake.endpoint;
    process.env['AWS_REGION'] = 'eu-west-1';
    process.env['AWS_ACCESS_KEY_ID'] = 'AKIDENV';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'dummy';
  });
  afterAll(async () => {
    for (const name of names) {
      delete process.env[name];
      if (saved[name] !== undefined) process.env[name] = saved[name];
    }
    await fake.close();
  });

  it('routes a client built without endpoint to the fake', async () => {
    // GetQueueUrl carries no QueueUrl, so only the env variable can have routed it here
    const queueUrl = fake.createQueue('from-env');
    const client = new SQSClient({ maxAttempts: 1 });

    const out = await client.send(new GetQueueUrlCommand({ QueueName: 'from-env' }));
    await client.send(new SendMessageCommand({ QueueUrl: out.QueueUrl!, MessageBody: 'via env' }));

    expect(out.QueueUrl).toBe(queueUrl);
    expect(fake.calls.map((call) => call.operation)).toEqual(['GetQueueUrl', 'SendMessage']);
    expect(fake.calls[0]?.headers['authorization']).toMatch(/Credential=AKIDENV\/\d{8}\/eu-west-1\/sqs\/aws4_request/);
    expect(fake.messages(queueUrl).map((m) => m.body)).toEqual(['via env']);
    client.destroy();
  });
});
