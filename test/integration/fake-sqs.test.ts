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
  type Message,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { md5OfMessageAttributes, startFakeSqs, type FakeSqs } from '../support/fake-sqs.ts';

/**
 * Self-tests of the SQS fake, driven only by the real `@aws-sdk/client-sqs`, so tests of the
 * relay can trust its wire format, its error shapes and its queue semantics.
 */

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

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
