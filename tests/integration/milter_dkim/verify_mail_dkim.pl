#!/usr/bin/perl
# verify_mail_dkim.pl - check DKIM signatures with Perl's Mail::DKIM, an
# implementation independent of ours, with public keys served from a file
# instead of DNS (through Mail::DKIM::DNS's documented resolver hook).
#
# usage: verify_mail_dkim.pl KEYFILE MESSAGE...
#   KEYFILE holds lines "NAME<TAB>TXT-RECORD-TEXT", NAME being
#   selector._domainkey.domain.  For each signature of each message it
#   prints "MESSAGE<TAB>INDEX<TAB>RESULT<TAB>DETAIL" (RESULT is pass, fail,
#   invalid, ...), and "MESSAGE<TAB>-<TAB>none<TAB>" for a message without
#   signatures.  Messages are read in binary and given to Mail::DKIM as is.
use strict;
use warnings;

use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;
use Net::DNS;

# A resolver with just what Mail::DKIM::DNS::query uses: send, errorstring.
package FileResolver;

sub new {
	my ($class, $records) = @_;
	return bless { records => $records }, $class;
}

sub send {
	my ($self, $name, $type) = @_;
	my $pkt = Net::DNS::Packet->new($name, $type, 'IN');
	$pkt->header->qr(1);
	my $txt = $self->{records}{lc $name};
	if (defined $txt && uc($type) eq 'TXT') {
		# Split like a zone file must: strings of at most 255 bytes.
		my @strings;
		for (my $i = 0; $i < length $txt; $i += 255) {
			push @strings, substr($txt, $i, 255);
		}
		$pkt->push(answer => Net::DNS::RR->new(
			name => $name, type => 'TXT', ttl => 60,
			txtdata => \@strings));
	} else {
		$pkt->header->rcode('NXDOMAIN');
	}
	return $pkt;
}

sub errorstring { return 'NOERROR' }

package main;

die "usage: $0 KEYFILE MESSAGE...\n" unless @ARGV >= 2;
my $keyfile = shift @ARGV;
my %records;
open(my $kf, '<', $keyfile) or die "$keyfile: $!\n";
while (my $line = <$kf>) {
	chomp $line;
	next if $line eq '';
	my ($name, $txt) = split(/\t/, $line, 2);
	$records{lc $name} = $txt;
}
close $kf;
Mail::DKIM::DNS::resolver(FileResolver->new(\%records));

$| = 1;
for my $file (@ARGV) {
	open(my $fh, '<:raw', $file) or die "$file: $!\n";
	my $dkim = Mail::DKIM::Verifier->new();
	my $buf;
	while (read($fh, $buf, 65536)) {
		$dkim->PRINT($buf);
	}
	close $fh;
	$dkim->CLOSE();
	my @sigs = $dkim->signatures;
	if (!@sigs) {
		print "$file\t-\tnone\t\n";
		next;
	}
	my $i = 0;
	for my $sig (@sigs) {
		my $detail = $sig->result_detail // '';
		$detail =~ s/[\t\r\n]+/ /g;
		printf "%s\t%d\t%s\t%s\n", $file, $i++, $sig->result, $detail;
	}
}
