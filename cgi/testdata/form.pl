#!/usr/bin/perl
# A classic form handler: reads the query string and a POSTed body.
use strict;
use warnings;

sub decode {
	my ($s) = @_;
	$s =~ tr/+/ /;
	$s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
	return $s;
}

my $body = '';
if (($ENV{CONTENT_LENGTH} // 0) > 0) {
	read(STDIN, $body, $ENV{CONTENT_LENGTH}) == $ENV{CONTENT_LENGTH} or die "short body\n";
}
my %form;
for my $pair (split /&/, join('&', grep { length } $ENV{QUERY_STRING}, $body)) {
	my ($k, $v) = split /=/, $pair, 2;
	$form{decode($k)} = decode($v // '');
}
print "Content-Type: text/plain; charset=utf-8\r\n\r\n";
print "method=$ENV{REQUEST_METHOD}\n";
print "$_=$form{$_}\n" for sort keys %form;
print STDERR "form.pl: handled ", scalar(keys %form), " fields\n";
