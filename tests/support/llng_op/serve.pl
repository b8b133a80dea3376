#!/usr/bin/perl
# Starts the LemonLDAP::NG test OP for one test: a fresh folder (LLNG_OP_DIR) with a new
# RS256 signing key, lmConf-1.json and lemonldap-ng.ini made from the templates beside
# this file, then execs starman (Debian's preforking PSGI server) serving the portal's
# PSGI app on 127.0.0.1:LLNG_OP_PORT: several workers, so the OP answers the BFF's calls
# while one of them posts a logout token to it. (plackup's default HTTP::Server::PSGI
# reset the connection of the BFF's token request: "Connection reset by peer".)
# The portal's Perl modules come from LLNG_OP_ROOT (install.sh extracts them there).
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use JSON::PP;
use Crypt::OpenSSL::RSA;
use Digest::SHA qw(sha256_hex);

sub need { $ENV{ $_[0] } // die "$_[0] is not set\n" }

my $here   = dirname(__FILE__);
my $dir    = need('LLNG_OP_DIR');
my $port   = need('LLNG_OP_PORT');
my $root   = need('LLNG_OP_ROOT');
my $bff    = need('LLNG_OP_BFF_ORIGIN');
my $id     = need('LLNG_OP_CLIENT_ID');
my $secret = need('LLNG_OP_CLIENT_SECRET');
my $origin = "http://127.0.0.1:$port";

make_path( map { "$dir/$_" }
      qw(conf cache sessions/lock psessions/lock) );

sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!\n"; local $/; <$f> }
sub spill { open my $f, '>', $_[0] or die "$_[0]: $!\n"; print $f $_[1]; close $f }

my $version = slurp("$root/VERSION");
chomp $version;
$version =~ s/[+-].*//;    # the upstream version, as cfgVersion holds it
my $rsa = Crypt::OpenSSL::RSA->generate_key(2048);
my $public = $rsa->get_public_key_x509_string;
my %fill = (
    VERSION       => $version,
    ORIGIN        => $origin,
    BFF_ORIGIN    => $bff,
    CLIENT_ID     => $id,
    CLIENT_SECRET => $secret,
    KID           => substr( sha256_hex($public), 0, 16 ),
    PRIVATE_KEY   => $rsa->get_private_key_string,
    PUBLIC_KEY    => $public,
    DIR           => $dir,
);
# Values go into JSON strings: encode each (JSON::PP escapes newlines and quotes).
my $json = JSON::PP->new->allow_nonref;
my $conf = slurp("$here/lmConf.json");
$conf =~ s/"\@(\w+)\@"/exists $fill{$1} ? $json->encode($fill{$1}) : die "no $1\n"/ge;
$conf =~ s/\@(\w+)\@/exists $fill{$1} ? substr($json->encode($fill{$1}), 1, -1) : die "no $1\n"/ge;
spill( "$dir/conf/lmConf-1.json", $conf );

my $ini = slurp("$here/lemonldap-ng.ini");
my %ini = ( DIR => $dir, ROOT => $root, LOGLEVEL => $ENV{LLNG_OP_LOGLEVEL} || 'info' );
$ini =~ s/\@(\w+)\@/$ini{$1}/g;
spill( "$dir/lemonldap-ng.ini", $ini );

$ENV{LLNG_DEFAULTCONFFILE} = "$dir/lemonldap-ng.ini";
$ENV{PERL5LIB} = join ':', "$root/usr/share/perl5", ( $ENV{PERL5LIB} // () );
exec 'starman', '--listen', "127.0.0.1:$port", '--workers', '4',
  "$root/usr/share/lemonldap-ng/portal/htdocs/index.psgi"
  or die "starman: $!\n";
