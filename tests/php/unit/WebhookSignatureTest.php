<?php

use PHPUnit\Framework\TestCase;
use SunskyDropship\WebhookSignature;
use SunskyDropship\WebhookVerificationException;

/** Standard Webhooks signatures against tests/fixtures/webhook_vectors.json (Python checks the same file). */
final class WebhookSignatureTest extends TestCase
{
    public function testTheSpecificationsPublishedVector(): void
    {
        $signer = new WebhookSignature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');

        $this->assertSame(
            'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
            $signer->sign('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')
        );
    }

    /** @dataProvider signVectors */
    public function testSigningReproducesTheSharedVectors(array $vector): void
    {
        $signer = new WebhookSignature($vector['secret']);

        $this->assertSame($vector['signature'], $signer->sign($vector['msg_id'], $vector['timestamp'], $vector['body']));
    }

    /** @dataProvider verifyCases */
    public function testVerificationAcceptsExactlyTheValidCases(array $case): void
    {
        $reason = null;
        try {
            (new WebhookSignature($case['secret']))->verify($case['headers'], $case['body'], $case['now']);
        } catch (WebhookVerificationException $e) {
            $reason = $e->reason();
        }

        $this->assertSame($case['valid'] ? null : $case['reason'], $reason);
    }

    public function testTheSecretMayComeWithoutItsPrefix(): void
    {
        $this->assertSame(
            (new WebhookSignature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'))->sign('id', 1, 'body'),
            (new WebhookSignature('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'))->sign('id', 1, 'body')
        );
    }

    public function testASecretThatIsNotBase64IsRefused(): void
    {
        $this->expectException(InvalidArgumentException::class);
        new WebhookSignature('whsec_not base64!');
    }

    public static function signVectors(): array
    {
        return self::cases('sign');
    }

    public static function verifyCases(): array
    {
        return self::cases('verify');
    }

    private static function cases(string $kind): array
    {
        $vectors = json_decode((string) file_get_contents(__DIR__ . '/../../fixtures/webhook_vectors.json'), true);
        $cases = [];
        foreach ($vectors[$kind] as $case) {
            $cases[$case['name']] = [$case];
        }
        return $cases;
    }
}
