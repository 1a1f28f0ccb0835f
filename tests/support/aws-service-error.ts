import { EC2ServiceException } from '@aws-sdk/client-ec2';

/** An error as the AWS SDK throws it for `code`: a client fault below HTTP 500, a server fault from it. */
export function awsServiceError(
  code: string,
  httpStatusCode: number,
  message = `message for ${code}`,
): Error {
  const error = new EC2ServiceException({
    name: code,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message,
  });
  return Object.assign(error, { Code: code });
}
